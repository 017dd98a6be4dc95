"""Publish and subscribe Events (cereal/log.capnp) over msgq, openpilot style.

  import cereal.messaging as messaging
  pm = messaging.PubMaster(['can'])
  sm = messaging.SubMaster(['can'])
  pm.send('can', messaging.new_message('can', 1))
  sm.update(100); print(sm['can'][0].address if sm.updated['can'] else None)

Sockets come from cereal._cereal (msgq: shared memory, or libzmq with ZMQ=1);
waits release the GIL. Readers read received bytes in place. Loan services
(SERVICE_LIST[name].loan): new_message builds in the ring of this process's
publisher of that service and send() commits it there, no copy; SubMaster
reads it in place: check sm.intact(name) after reading sm[name] (False: it was
overwritten meanwhile, and counts in sm.lost). sock.receive_view() gives a
MessageView (memoryview/numpy/log_from_bytes over the ring; view.intact()
after reading). Bad input raises:
TypeError (wrong Python type for a field), ValueError/CapnpError (malformed
message, inactive union member), KeyError/ValueError (unknown service).
"""
import weakref
from collections.abc import Mapping

from cereal import log
from cereal._cereal import (DEFAULT_RING_SIZE, CapnpError, MsgqError, Poller, PubSocket, SubSocket,
                            remove_unused_topics, zmq_backend)
from cereal._cereal import SubMaster as _SubMaster
from cereal._cereal import new_event as _new_event
from cereal.services import SERVICE_LIST

__all__ = [
  "CapnpError", "MsgqError", "Poller", "PubMaster", "PubSocket", "SERVICE_LIST", "SubMaster", "SubSocket",
  "drain_sock", "drain_sock_raw", "log_from_bytes", "new_message", "pub_sock", "recv_one", "recv_one_or_none",
  "recv_one_retry", "recv_sock", "remove_unused_topics", "sub_sock", "zmq_backend",
]


def _host(addr):
  """'' for this host's bus (None, 127.0.0.1, localhost), else the host whose bridge to reach."""
  if addr is None:
    return ""
  if not isinstance(addr, str):
    raise TypeError(f"addr must be a host name or address (str), found {type(addr).__name__}")
  return addr


_LOAN_SERVICES = frozenset(name for name, s in SERVICE_LIST.items() if s.loan)
# {service: PubSocket} for loan services published in this process: new_message builds in its loans.
_lenders = weakref.WeakValueDictionary()


def _ring_size(endpoint):
  service = SERVICE_LIST.get(endpoint)
  return service.ring_size if service is not None else DEFAULT_RING_SIZE


def new_message(service=None, size=None, **kwargs):
  """An Event builder stamped now (logMonoTime, CLOCK_MONOTONIC ns), valid=True unless
  given, with the union member `service` initialized (a list of `size` if given)
  unless kwargs already set it. For a loan service published in this process,
  it is built in place in the topic's ring: send it once, on that socket, and
  do not change it after."""
  if service in _LOAN_SERVICES:
    return _new_event(log.Event, service, size, kwargs, _lenders.get(service))
  return _new_event(log.Event, service, size, kwargs)


def log_from_bytes(dat, traversal_limit_in_words=None):
  """An Event reader over serialized bytes (read in place when aligned). Raises
  CapnpError for malformed or truncated input, TypeError for non-bytes."""
  return log.Event.from_bytes(dat, traversal_limit_in_words=traversal_limit_in_words)


def pub_sock(endpoint):
  sock = PubSocket(endpoint, _ring_size(endpoint))
  if endpoint in _LOAN_SERVICES:
    _lenders[endpoint] = sock
  return sock


def sub_sock(endpoint, poller=None, addr="127.0.0.1", conflate=False, timeout=None):
  """A subscriber of `endpoint`. timeout: ms that receive() waits (None: forever).
  addr: another host, whose bridge (`bridge --publish`) relays the service;
  MsgqError says what is wrong when it cannot (no bridge there, not published)."""
  sock = SubSocket(endpoint, conflate=conflate, ring_size=_ring_size(endpoint),
                   timeout_ms=-1 if timeout is None else int(timeout), addr=_host(addr))
  if poller is not None:
    poller.registerSocket(sock)
  return sock


def drain_sock_raw(sock, wait_for_one=False):
  """Every message waiting on `sock`, as bytes (waits for the first if asked)."""
  ret = []
  while True:
    dat = sock.receive() if wait_for_one and not ret else sock.receive(non_blocking=True)
    if dat is None:
      return ret
    ret.append(dat)


def drain_sock(sock, wait_for_one=False):
  return [log_from_bytes(dat) for dat in drain_sock_raw(sock, wait_for_one)]


def recv_sock(sock, wait=False):
  """The newest message waiting on `sock` (older ones are discarded), or None."""
  newest = None
  while True:
    dat = sock.receive() if wait and newest is None else sock.receive(non_blocking=True)
    if dat is None:
      break
    newest = dat
  return log_from_bytes(newest) if newest is not None else None


def recv_one(sock):
  """The next message, waiting up to the socket's timeout; None on timeout."""
  dat = sock.receive()
  return log_from_bytes(dat) if dat is not None else None


def recv_one_or_none(sock):
  dat = sock.receive(non_blocking=True)
  return log_from_bytes(dat) if dat is not None else None


def recv_one_retry(sock):
  """The next message, however long it takes."""
  while True:
    dat = sock.receive()
    if dat is not None:
      return log_from_bytes(dat)


class _View(Mapping):
  """Read-only {service: value} over the SubMaster's state, read when indexed."""
  __slots__ = ("_get", "_keys")

  def __init__(self, get, keys):
    self._get = get
    self._keys = keys

  def __getitem__(self, service):
    try:
      return self._get(service)
    except (ValueError, TypeError):
      raise KeyError(service) from None

  def __iter__(self):
    return iter(self._keys)

  def __len__(self):
    return len(self._keys)

  def __repr__(self):
    return repr(dict(self.items()))


def _unknown(services, what):
  unknown = [s for s in services if s not in SERVICE_LIST]
  if unknown:
    raise ValueError(f"{what}: unknown services {unknown}; known: {', '.join(SERVICE_LIST)}")


class SubMaster:
  """Subscribes to services and keeps the newest message of each.

    sm = SubMaster(['modelV2', 'can'])
    while True:
      sm.update(100)                       # wait up to 100 ms for a message
      if sm.updated['modelV2']:
        print(sm['modelV2'].frameId, sm.recv_time['modelV2'])

  SubMaster(services, poll=None, ignore_alive=None, ignore_avg_freq=None,
  ignore_valid=None, addr="127.0.0.1", conflate=False): services are names of
  cereal/services.py (ValueError for unknown ones); poll: the services whose
  messages end update()'s wait (default all); ignore_*: services left out of
  all_alive()/all_freq_ok()/all_valid(); conflate: keep only the newest
  message in the ring.

  update(timeout=100, now_ns=None) waits up to timeout ms (0: no wait, -1:
  forever) for a service in `poll` (all when None), then takes at most one new
  message per service; now_ns replaces the receive time (replay, tests).
  Per service, dicts kept current by every update: updated, alive, valid,
  freq_ok. Mappings read on access: recv_time (s, monotonic), recv_time_ns,
  recv_frame, logMonoTime, lost, bad_messages. sm[name] is the newest message's
  union member; on a loan service it is read in place: sm.intact(name) after
  reading says whether what was read was whole. addr: another host, whose
  bridge relays the services (receive times are this host's; lost counts
  what never arrived from there).
  """

  def __init__(self, services, poll=None, ignore_alive=None, ignore_avg_freq=None, ignore_valid=None,
               addr="127.0.0.1", conflate=False):
    self.services = list(services)
    _unknown(self.services, "SubMaster")
    poll = [poll] if isinstance(poll, str) else list(poll or [])
    self.ignore_alive = list(ignore_alive or [])
    self.ignore_avg_freq = list(ignore_avg_freq or [])
    self.ignore_valid = list(ignore_valid or [])
    self._sm = sm = _SubMaster(self.services, poll, self.ignore_alive, conflate, log.Event, _host(addr))
    # update(timeout=100, now_ns=None) is the C++ call itself: no Python frame and no
    # pybind11 dispatch on the hot path.
    self.update = sm.bound_update()
    self.updated = sm.updated_dict
    self.alive = sm.alive_dict
    self.valid = sm.valid_dict
    self.freq_ok = sm.freq_ok_dict
    self._members = sm.members_dict  # sm[name], cached until name's next message
    # Per message and rarely read: looked up when indexed rather than stored by every update.
    self.recv_time = _View(sm.rcv_time_s, self.services)
    self.recv_time_ns = _View(sm.rcv_time, self.services)
    self.recv_frame = _View(sm.rcv_frame, self.services)
    self.logMonoTime = _View(sm.logMonoTime, self.services)
    self.lost = _View(sm.lost, self.services)
    self.bad_messages = _View(sm.bad_messages, self.services)

  def update(self, timeout=100, now_ns=None):
    """Waits up to `timeout` ms (0: no wait, -1: forever) for a message of a
    polled service, then takes at most one new message per service. Sets
    updated[name] for those that got one; alive, valid and freq_ok follow.
    (Each SubMaster replaces this with the C++ call itself: no Python frame.)"""
    return self._sm.bound_update()(timeout, now_ns)

  @property
  def frame(self):
    """How many times update() was called."""
    return self._sm.frame()

  def updated_services(self):
    """The services that got a message in the last update()."""
    return self._sm.updated_services()

  def __getitem__(self, service):
    """The newest message's `service` member (sm['can'] is the list of frames),
    or a default one before the first message, as in openpilot."""
    try:
      return self._members[service]
    except KeyError:
      pass
    member = self._members[service] = getattr(self.event(service), service)
    return member

  def event(self, service):
    """The whole newest Event of `service` (logMonoTime, valid, which(), ...)."""
    try:
      return self._sm.get(service)
    except KeyError:
      raise KeyError(f"SubMaster is not subscribed to {service!r}; services: {self.services}") from None

  def __contains__(self, service):
    return service in self.services

  def intact(self, service):
    """Whether the newest message of `service` is still whole: always for copied
    services; for loan services, ask after reading sm[service]."""
    return self._sm.intact(service)

  def all_alive(self, service_list=None):
    """True when every service (of service_list, default all) got a message recently enough for its rate."""
    names = self.services if service_list is None else service_list
    names = [s for s in names if s not in self.ignore_alive]
    return not names or self._sm.all_alive(names)

  def all_freq_ok(self, service_list=None):
    """True when every service arrives at about its services.py frequency."""
    names = self.services if service_list is None else service_list
    names = [s for s in names if s not in self.ignore_avg_freq and s not in self.ignore_alive]
    return not names or self._sm.all_freq_ok(names)

  def all_valid(self, service_list=None):
    """True when the newest message of every service has valid set."""
    names = self.services if service_list is None else service_list
    names = [s for s in names if s not in self.ignore_valid]
    return not names or self._sm.all_valid(names)

  def all_checks(self, service_list=None):
    """all_alive() and all_freq_ok() and all_valid()."""
    return self.all_alive(service_list) and self.all_freq_ok(service_list) and self.all_valid(service_list)


class PubMaster:
  """Publishes on services; send() takes an Event builder or serialized bytes."""

  def __init__(self, services):
    services = list(services)
    _unknown(services, "PubMaster")
    self.sock = {s: pub_sock(s) for s in services}

  def send(self, service, dat):
    try:
      sock = self.sock[service]
    except KeyError:
      raise KeyError(f"PubMaster does not publish {service!r}; services: {list(self.sock)}") from None
    sock.send(dat, service)  # a builder must hold the service's own member

  def subscriber_count(self, service):
    return self.sock[service].subscriber_count()
