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
message, inactive union member, a list member initialized without a size),
KeyError/ValueError (unknown service), MsgqError (socket errors; its subclass
MultiplePublishersError for a second live publisher on a topic).

Lockstep (fake events, msgq/msgq.h): a process started with
CONDUIT_LOCKSTEP=1 (or after toggle_fake_events(True)) has lockstep
subscribers; a feeder sends one message and waits with
pub.wait_lockstep(timeout_ms) (PubMaster.wait_lockstep(service)) until the
process took it and went back to wait. sock.done() says "done" early. A lockstep
process stops on a signal once stop_lockstep_on_signal(signum) follows its
signal.signal(signum, handler) (common/process.py does both).
"""
import gc
import time
import weakref
from collections.abc import Mapping

from cereal import log
from cereal._cereal import (DEFAULT_RING_SIZE, CapnpError, MsgqError, MultiplePublishersError, Poller,
                            remove_unused_topics, zmq_backend)
from cereal._cereal import PubSocket as _PubSocket
from cereal._cereal import SubMaster as _SubMaster
from cereal._cereal import SubSocket as _SubSocket
from cereal._cereal import lockstep_default
from cereal._cereal import new_event as _new_event
from cereal._cereal import set_lockstep_default as _set_lockstep_default
from cereal._cereal import stop_lockstep_on_signal
from cereal.services import SERVICE_LIST

# openpilot's names for the same errors.
MessagingError = IpcError = MsgqError
KjException = CapnpError
NO_TRAVERSAL_LIMIT = 2**64 - 1

__all__ = [
  "CapnpError", "Context", "IpcError", "KjException", "MessagingError", "MsgqError", "MultiplePublishersError",
  "Poller", "PubMaster", "PubSocket", "SERVICE_LIST", "SubMaster", "SubSocket", "context", "drain_sock",
  "drain_sock_raw", "lockstep_default", "log_from_bytes", "new_message", "pub_sock", "recv_one",
  "recv_one_or_none", "recv_one_retry", "recv_sock", "remove_unused_topics", "stop_lockstep_on_signal", "sub_sock",
  "toggle_fake_events",
  "zmq_backend",
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


def _take_topic(connect):
  """connect(), once more after a garbage collection if a publisher object of
  this process that nothing references any more (in a reference cycle) still
  holds the topic. A second live publisher stays an error."""
  try:
    return connect()
  except MultiplePublishersError:
    gc.collect()
    return connect()


class Context:
  """openpilot's socket context. msgq needs none; connect() takes one to read alike."""

  def term(self):
    pass


context = Context()


class PubSocket(_PubSocket):
  """A publisher: PubSocket(endpoint), or PubSocket() then connect(context, endpoint)."""

  def __init__(self, endpoint=None, ring_size=None):
    if endpoint is None:
      super().__init__()
    else:
      _take_topic(lambda: super(PubSocket, self).__init__(endpoint, ring_size or _ring_size(endpoint)))

  def connect(self, context, endpoint, segment_size=0):
    _take_topic(lambda: self._connect(endpoint, segment_size or _ring_size(endpoint)))


class SubSocket(_SubSocket):
  """A subscriber: SubSocket(endpoint, ...), or SubSocket() then
  connect(context, endpoint, addr, conflate); setTimeout(ms) for receive()."""

  def connect(self, context, endpoint, addr="127.0.0.1", conflate=False, segment_size=0):
    if isinstance(addr, bytes):
      addr = addr.decode()
    self._connect(endpoint, conflate, segment_size or _ring_size(endpoint), _host(addr))


def toggle_fake_events(enabled):
  """Lockstep mode for the subscribers this process creates from now on
  (CONDUIT_LOCKSTEP=1 in a child's environment does it for the child)."""
  _set_lockstep_default(bool(enabled))


def new_message(service=None, size=None, **kwargs):
  """An Event builder stamped now (logMonoTime, CLOCK_MONOTONIC ns), valid=False
  unless given (as in openpilot: the sender sets it), with the union member
  `service` initialized (a list of `size` if given; CapnpError for a list
  without one) unless kwargs already set it. For a loan service published in this process,
  it is built in place in the topic's ring: send it once, on that socket, and
  do not change it after."""
  if service in _LOAN_SERVICES:
    return _new_event(log.Event, service, size, kwargs, _lenders.get(service))
  return _new_event(log.Event, service, size, kwargs)


def log_from_bytes(dat, traversal_limit_in_words=None):
  """An Event reader over serialized bytes (read in place when aligned). Raises
  CapnpError for malformed or truncated input, TypeError for non-bytes."""
  return log.Event.from_bytes(dat, traversal_limit_in_words=traversal_limit_in_words)


def pub_sock(endpoint, segment_size=0):
  sock = PubSocket(endpoint, segment_size or _ring_size(endpoint))
  if endpoint in _LOAN_SERVICES:
    _lenders[endpoint] = sock
  return sock


def sub_sock(endpoint, poller=None, addr="127.0.0.1", conflate=False, timeout=None, segment_size=0):
  """A subscriber of `endpoint`. timeout: ms that receive() waits (None: forever).
  addr: another host, whose bridge (`bridge --publish`) relays the service;
  MsgqError says what is wrong when it cannot (no bridge there, not published)."""
  sock = SubSocket(endpoint, conflate=conflate, ring_size=segment_size or _ring_size(endpoint),
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
  """Subscribes to services and keeps the newest message of each, as openpilot's.

    sm = SubMaster(['modelV2', 'can'])
    while True:
      sm.update(100)                       # wait up to 100 ms for a message
      if sm.updated['modelV2']:
        print(sm['modelV2'].frameId, sm.recv_time['modelV2'])

  SubMaster(services, poll=None, ignore_alive=None, ignore_avg_freq=None,
  ignore_valid=None, addr="127.0.0.1", frequency=None, conflate=False):
  services are names of cereal/services.py (ValueError for unknown ones);
  poll: the services whose messages end update()'s wait (default all);
  ignore_*: services left out of all_alive()/all_freq_ok()/all_valid();
  frequency: the loop's rate for freq_ok when poll is not given; conflate:
  keep only the newest message in the ring.

  update(timeout=100, now_ns=None) waits up to timeout ms (0: no wait, -1:
  forever) for a service in `poll` (a name or a list; all services when None),
  then takes at most one new message per service; now_ns replaces the receive
  time (replay, tests). frame counts updates: -1 before the first.
  Dicts kept current by every update: updated, alive, valid, freq_ok (a
  frequency-0 service is always alive and frequency-ok, and valid until a
  message says otherwise). Mappings read on access: recv_time (s, monotonic),
  recv_time_ns, recv_frame, logMonoTime, seen, data (= sm[name]), sock (the
  SubSocket of each service), lost, bad_messages. freq_ok follows openpilot's
  bounds for the SubMaster's loop rate: `frequency`, or the fastest polled
  service's (cereal/frequency_tracker.h). sm[name] is the newest message's union
  member; on a loan service it is read in place: sm.intact(name) after reading
  says whether what was read was whole. addr: another host, whose bridge relays
  the services (receive times are this host's; lost counts what never arrived
  from there).
  """

  def __init__(self, services, poll=None, ignore_alive=None, ignore_avg_freq=None, ignore_valid=None,
               addr="127.0.0.1", frequency=None, conflate=False):
    self.services = list(services)
    _unknown(self.services, "SubMaster")
    poll = [poll] if isinstance(poll, str) else list(poll or [])
    if frequency is not None and poll:
      raise ValueError("SubMaster: give frequency or poll, not both (the polled services set the rate)")
    self.ignore_alive = list(ignore_alive or [])
    self.ignore_average_freq = self.ignore_avg_freq = list(ignore_avg_freq or [])
    self.ignore_valid = list(ignore_valid or [])
    self.non_polled_services = set(self.services) - set(poll) if poll else set()
    self._sm = sm = _SubMaster(self.services, poll, self.ignore_alive, conflate, log.Event, _host(addr),
                               float(frequency or 0))
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
    self.recv_frame = _View(lambda s: max(sm.rcv_frame(s) - 1, 0), self.services)  # as frame
    self.logMonoTime = _View(sm.logMonoTime, self.services)
    self.seen = _View(lambda s: sm.rcv_frame(s) > 0, self.services)
    self.lost = _View(sm.lost, self.services)
    self.bad_messages = _View(sm.bad_messages, self.services)
    self.sock = {s: sm.socket(s) for s in self.services}

  def update(self, timeout=100, now_ns=None):
    """Waits up to `timeout` ms (0: no wait, -1: forever) for a message of a
    polled service, then takes at most one new message per service. Sets
    updated[name] for those that got one; alive, valid and freq_ok follow.
    (Each SubMaster replaces this with the C++ call itself: no Python frame.)"""
    return self._sm.bound_update()(timeout, now_ns)

  @property
  def data(self):
    """{service: sm[service]}, read on access (a property: a stored view would
    tie the SubMaster into a reference cycle and keep its sockets after del)."""
    return _View(self.__getitem__, self.services)

  @property
  def frame(self):
    """How many times update() was called, minus one (-1 before the first), as in openpilot."""
    return self._sm.frame() - 1

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

  def _check_avg_freq(self, s):
    return SERVICE_LIST[s].frequency > 0.99 and s not in self.ignore_avg_freq and s not in self.ignore_alive

  def all_alive(self, service_list=None):
    """True when every service (of service_list, default all) got a message recently enough for its rate."""
    return all(self.alive[s] for s in (service_list or self.services) if s not in self.ignore_alive)

  def all_freq_ok(self, service_list=None):
    """True when every service with a rate of 1 Hz or more arrives within openpilot's bounds."""
    return all(self.freq_ok[s] for s in (service_list or self.services) if self._check_avg_freq(s))

  def all_valid(self, service_list=None):
    """True when the newest message of every service has valid set."""
    return all(self.valid[s] for s in (service_list or self.services) if s not in self.ignore_valid)

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

  def all_readers_updated(self, service):
    return self.sock[service].all_readers_updated()

  def wait_for_readers_to_update(self, service, timeout, dt=0.05):
    """Whether every subscriber took every message of `service` within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not self.sock[service].all_readers_updated():
      if time.monotonic() >= deadline:
        return False
      time.sleep(dt)
    return True

  def wait_lockstep(self, service, timeout=None):
    """Lockstep: waits until every lockstep subscriber of `service` took every
    message sent and went back to wait (msgq/msgq.h); False after `timeout` s."""
    return self.sock[service].wait_lockstep(-1 if timeout is None else int(timeout * 1000))
