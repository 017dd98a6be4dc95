"""The bridge between two hosts: two network namespaces joined by a veth pair
(common/testing/netns.py). Host A's bus gets testMessage from this test; A's
bridge publishes it; host B runs a bridge that republishes it on B's bus, and
subscribers: unmodified local ones on B's bus (Python here, C++
bridge_submaster_peer) and remote ones reaching A's bridge themselves
(bridge/tests/remote_peer.py, bridge_submaster_peer ADDR). Shared memory is not
namespaced, so A and B are two prefixes; this process publishes on A's bus and
reads B's directly."""
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import zmq

import cereal.messaging as messaging
from cereal._cereal import bridge_port
from common.testing.netns import NetnsPair, NetnsUnavailable
from common.testing.prefix import scoped_prefix
from common.testing.wait import wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BRIDGE = os.path.join(ROOT, "build", "bin", "bridge")
CPP_PEER = os.path.join(ROOT, "build", "bin", "bridge_submaster_peer")
PY_PEER = os.path.join(ROOT, "bridge", "tests", "remote_peer.py")
HOSTILE_PEER = os.path.join(ROOT, "bridge", "tests", "hostile_peer.py")
# A client that knows the bridge's public key (argv[2]) but holds a key of its
# own; prints how many messages it got once its stdin closes.
OUTSIDER = """import sys, zmq
from cereal._cereal import bridge_port
s = zmq.Context().socket(zmq.SUB)
s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
s.curve_serverkey = sys.argv[2].encode()
s.subscribe(b"")
s.connect(f"tcp://{sys.argv[1]}:{bridge_port('testMessage')}")
sys.stdin.read()
n = 0
while s.poll(0):
  s.recv()
  n += 1
print("received", n, flush=True)"""
PORT = "9000"  # inside the namespaces every port is free
RATE = 100.0
KEY1, KEY2 = "rq:rM>}U?@Lns47E1%kR.o@n5FcmR4QL!i=i/Rp-", "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"


@pytest.fixture
def net():
  try:
    with NetnsPair() as n:
      yield n
  except NetnsUnavailable as e:
    pytest.skip(f"bridge tests need two network namespaces: {e}")


prefix_env = functools.partial(scoped_prefix, remove=False)  # the `prefixes` fixture removes them


@pytest.fixture
def prefixes(conduit_prefix):
  names = (conduit_prefix + "_a", conduit_prefix + "_b")
  yield names
  for p in names:
    shutil.rmtree(f"/dev/shm/conduit_{p}", ignore_errors=True)


class Lines:
  """A process's stdout lines, read as they come; `ready` is set at the line 'ready'."""

  def __init__(self, proc):
    self.proc, self.lines, self.ready = proc, [], threading.Event()
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self.proc.stdout:
      line = line.strip()
      if line == "ready" or line.startswith("error"):
        self.ready.set()
      self.lines.append(line)

  def finish(self, timeout=15):
    self.proc.wait(timeout)
    self._reader.join(timeout)  # it has read up to the end of the output
    return self.lines


def env_for(prefix, key=None, port=PORT):
  env = dict(os.environ, CONDUIT_PREFIX=prefix, PYTHONPATH=ROOT)
  env.pop("CONDUIT_BRIDGE_KEY", None)
  env.pop("CONDUIT_BRIDGE_PORT", None)
  if port:
    env["CONDUIT_BRIDGE_PORT"] = port
  if key:
    env["CONDUIT_BRIDGE_KEY"] = key
  return env


def start_bridge(net, side, prefix, args, **env_kw):
  """A bridge in `side`'s namespace, returned once it has bound its ports."""
  p = net.popen(side, [BRIDGE, *args], env=env_for(prefix, **env_kw), stderr=subprocess.PIPE, text=True)
  line = p.stderr.readline()
  assert line.startswith("bridge: publishing"), f"bridge did not start: {line}{p.stderr.read() if p.poll() is not None else ''}"
  threading.Thread(target=p.stderr.read, daemon=True).start()  # keep its pipe drained
  return p


def start_peer(net, side, argv, prefix, **env_kw):
  popen = (lambda a, **kw: net.popen(side, a, **kw)) if side is not None else subprocess.Popen
  return Lines(popen(argv, env=env_for(prefix, **env_kw), stdout=subprocess.PIPE, text=True))


class Stream:
  """`service` (a TestMessage) on A's bus at RATE Hz; every message's bytes kept in `sent`."""

  def __init__(self, prefix, local_subs=(), service="testMessage"):
    with prefix_env(prefix):
      self.pub = messaging.pub_sock(service)
    self.service, self.sent, self.local = service, [], {s: [] for s in local_subs}

  def send(self, payload):
    msg = messaging.new_message(self.service)
    getattr(msg, self.service).seq = len(self.sent)
    getattr(msg, self.service).payload = payload
    dat = msg.to_bytes()
    self.pub.send(msg, self.service)  # a builder: on a loan service it lies in the ring already
    self.sent.append(dat)
    for sock, got in self.local.items():
      got.extend(messaging.drain_sock_raw(sock))

  def run(self, seconds=None, until=None, payload=lambda i: os.urandom(200), timeout=20):
    """Sends for `seconds`, or until until() holds."""
    start = time.monotonic()
    while (time.monotonic() - start < seconds) if seconds is not None else not until():
      assert time.monotonic() - start < timeout, "timed out"
      self.send(payload(len(self.sent)))
      time.sleep(1 / RATE)

  def finish(self, peers, timeout=30):
    """Sends 'last' until every peer has exited and every local subscriber has it."""
    start = time.monotonic()
    while (any(p.proc.poll() is None for p in peers) or
           any(not got or payload_of(got[-1]) != b"last" for got in self.local.values())):
      assert time.monotonic() - start < timeout, "receivers did not finish: " + repr(
        [(p.proc.args[-3:], p.proc.poll(), len(p.lines)) for p in peers] + [len(got) for got in self.local.values()])
      self.send(b"last")
      time.sleep(0.05)
    return self.sent.index(next(d for d in self.sent if payload_of(d) == b"last"))


def payload_of(dat):
  event = messaging.log_from_bytes(dat)
  return getattr(event, event.which()).payload


def received_hex(lines):
  """The hex lines between 'ready' and 'lost', and the lost count."""
  assert lines and lines[0] == "ready", lines[:3]
  assert lines[-1].startswith("lost "), lines[-3:]
  return lines[1:-1], int(lines[-1].split()[1])


def check_in_order(got, sent, last):
  """got is sent's messages in order, byte for byte, from the first one it holds
  up to the first 'last'; returns the indices of sent it misses."""
  first = sent.index(got[0])
  index = {d: i for i, d in enumerate(sent)}
  idx = [index.get(d) for d in got]
  assert None not in idx, "a message arrived that was never sent (bytes changed)"
  assert idx == sorted(set(idx)), "out of order or duplicated"
  idx = [i for i in idx if i <= last]  # more copies of 'last' may follow
  assert idx[-1] == last
  return sorted(set(range(first, last + 1)) - set(idx))


def kill_and_restart_amid(net, stream, proc, restart, local, peers=()):
  """SIGKILLs proc a second into the stream, restart()s it 0.5 s later, streams 2 s
  more and finishes. Checks that `local` (a subscriber of the stream) missed all
  that was sent while proc was dead and nothing from 2 s after the restart on.
  Returns (the restarted process, the indices `local` missed, the last index, how
  many were sent while proc was dead)."""
  stream.run(seconds=1)
  assert net.stop(proc, signal.SIGKILL) == -signal.SIGKILL
  dark_from = len(stream.sent)
  stream.run(seconds=0.5)
  dark_to = len(stream.sent)
  proc = restart()
  stream.run(seconds=2)
  last = stream.finish(peers)
  missed = check_in_order(stream.local[local], stream.sent, last)
  assert set(range(dark_from, dark_to)) <= set(missed), "messages sent while the bridge was dead arrived?"
  assert max(missed) < dark_to + 2 * RATE, "the stream did not resume within 2 s of the restart"
  return proc, missed, last, dark_to - dark_from


def final_bridge_state(net, proc, sub):
  """The bridgeState a bridge publishes as it stops (SIGTERM), per service and direction."""
  net.stop(proc)
  msgs = messaging.drain_sock(sub)
  assert msgs, "no bridgeState"
  return {(s.name, str(s.direction)): s for s in msgs[-1].bridgeState.services}


def bridge_pair_for_testmessage(net, pa, pb):
  """Bridge a publishes testMessage from prefix pa; bridge b takes it into pb, where a
  testMessage and a bridgeState subscriber exist before b starts."""
  a = start_bridge(net, 0, pa, ["--publish", "testMessage", "--bind", net.addrs[0]])
  with prefix_env(pb):
    local_py = messaging.sub_sock("testMessage", timeout=0)
    state = messaging.sub_sock("bridgeState", timeout=0)
  b = start_bridge(net, 1, pb, ["--from", net.addrs[0], "--subscribe", "testMessage"])
  return a, b, local_py, state


def test_relays_every_message_byte_identical_and_in_order(net, prefixes):
  pa, pb = prefixes
  a, b, local_py, state = bridge_pair_for_testmessage(net, pa, pb)
  peers = {
    "cpp_local": start_peer(net, None, [CPP_PEER], pb),
    "cpp_remote": start_peer(net, 1, [CPP_PEER, net.addrs[0]], pb),
    "py_sub_sock_remote": start_peer(net, 1, [sys.executable, PY_PEER, "sub_sock", "--addr", net.addrs[0]], pb),
    "py_submaster_remote": start_peer(net, 1, [sys.executable, PY_PEER, "submaster", "--addr", net.addrs[0]], pb),
  }
  stream = Stream(pa, [local_py])
  stream.run(until=lambda: all(p.ready.is_set() for p in peers.values()) and stream.local[local_py],
             payload=lambda i: b"warm-up")
  warm = len(stream.sent)
  stream.run(until=lambda: len(stream.sent) == warm + 200)
  last = stream.finish(peers.values())

  assert check_in_order(stream.local[local_py], stream.sent, last) == []
  for name in ("cpp_local", "cpp_remote", "py_sub_sock_remote"):
    hexes, lost = received_hex(peers[name].finish())
    assert check_in_order([bytes.fromhex(h) for h in hexes], stream.sent, last) == [], name
    assert lost == 0, name
  lines, lost = received_hex(peers["py_submaster_remote"].finish())
  expect = [messaging.log_from_bytes(d).testMessage for d in stream.sent]
  first = int(lines[0].split()[0])
  assert lines == [f"{m.seq} {m.payload.hex()}" for m in expect[first:last + 1]]
  assert lost == 0
  st = final_bridge_state(net, b, state)[("testMessage", "subscribe")]
  assert (st.lost, st.dropped) == (0, 0)
  assert st.messages == len(stream.local[local_py] + messaging.drain_sock_raw(local_py))
  assert net.stop(a) == 0


def test_sigkilled_bridge_restarts_and_the_gap_is_counted(net, prefixes):
  pa, pb = prefixes
  args = ["--publish", "testMessage", "--bind", net.addrs[0]]
  a = start_bridge(net, 0, pa, args)
  with prefix_env(pb):
    local_py = messaging.sub_sock("testMessage", timeout=0)
    state = messaging.sub_sock("bridgeState", timeout=0)
  b = start_bridge(net, 1, pb, ["--from", net.addrs[0], "--subscribe", "testMessage"])
  remote = start_peer(net, 1, [CPP_PEER, net.addrs[0]], pb)
  stream = Stream(pa, [local_py])
  stream.run(until=lambda: remote.ready.is_set() and stream.local[local_py], payload=lambda i: b"warm-up")
  a, missed, last, dark = kill_and_restart_amid(net, stream, a, lambda: start_bridge(net, 0, pa, args), local_py, [remote])
  st = final_bridge_state(net, b, state)[("testMessage", "subscribe")]
  assert st.lost == len(missed)
  hexes, lost = received_hex(remote.finish())
  assert lost == len(check_in_order([bytes.fromhex(h) for h in hexes], stream.sent, last))
  assert lost >= dark


def test_sigkilled_receiving_bridge_counts_the_gap_exactly(net, prefixes):
  pa, pb = prefixes
  a, b, local_py, state = bridge_pair_for_testmessage(net, pa, pb)
  args = ["--from", net.addrs[0], "--subscribe", "testMessage"]
  stream = Stream(pa, [local_py])
  stream.run(until=lambda: stream.local[local_py], payload=lambda i: b"warm-up")
  b, missed, _, _ = kill_and_restart_amid(net, stream, b, lambda: start_bridge(net, 1, pb, args), local_py)
  position = f"/dev/shm/conduit_{pb}/testMessage.bridge_in"
  assert os.path.exists(position)
  st = final_bridge_state(net, b, state)[("testMessage", "subscribe")]
  assert st.lost == len(missed)  # exactly what the local subscriber missed, all while B was down
  assert not os.path.exists(position), "a clean stop keeps no position: the next start would count a gap"
  assert net.stop(a) == 0


def test_one_bridge_takes_services_from_two_hosts(net, prefixes):
  pa, pb = prefixes
  pa2, addr2 = pa + "2", "192.0.2.3"  # a second host on A's side of the wire, its own bus
  net.add_addr(0, addr2)
  try:
    a = start_bridge(net, 0, pa, ["--publish", "testMessage", "--bind", net.addrs[0]])
    a2 = start_bridge(net, 0, pa2, ["--publish", "testLargeMessage", "--bind", addr2])
    with prefix_env(pb):
      subs = [messaging.sub_sock(s, timeout=0) for s in ("testMessage", "testLargeMessage")]
      state = messaging.sub_sock("bridgeState", timeout=0)
    b = start_bridge(net, 1, pb, ["--from", f"{net.addrs[0]}=testMessage", "--from", f"{addr2}=testLargeMessage"])
    streams = [Stream(pa, [subs[0]]), Stream(pa2, [subs[1]], service="testLargeMessage")]
    start = time.monotonic()
    while not all(s.local[sub] for s, sub in zip(streams, subs)):
      assert time.monotonic() - start < 15, "nothing arrived from one of the hosts"
      for s in streams:
        s.send(b"warm-up")
      time.sleep(1 / RATE)
    warm = [len(s.sent) for s in streams]
    while len(streams[0].sent) < warm[0] + 100:
      for s in streams:
        s.send(os.urandom(100))
      time.sleep(1 / RATE)
    for s, sub in zip(streams, subs):
      assert check_in_order(s.local[sub], s.sent, s.finish([])) == []
    states = final_bridge_state(net, b, state)
    assert sorted(states) == [("testLargeMessage", "subscribe"), ("testMessage", "subscribe")]
    for s, sub, host in zip(streams, subs, (net.addrs[0], addr2)):
      st = states[(s.service, "subscribe")]
      assert st.peer.startswith(f"tcp://{host}:") and (st.lost, st.dropped) == (0, 0)
      assert st.messages == len(s.local[sub] + messaging.drain_sock_raw(sub))
    assert net.stop(a) == 0 and net.stop(a2) == 0
  finally:
    shutil.rmtree(f"/dev/shm/conduit_{pa2}", ignore_errors=True)


def test_a_service_from_two_hosts_is_refused_as_ambiguous(prefixes):
  p = subprocess.run([BRIDGE, "--from", "192.0.2.1=testMessage,can", "--from", "192.0.2.3=testMessage"],
                     env=env_for(prefixes[1]), capture_output=True, text=True, timeout=10)
  assert p.returncode == 1
  assert "'testMessage' would come from both 192.0.2.1 and 192.0.2.3" in p.stderr


def test_rt_and_cpu_apply_to_every_thread_or_say_why_not(net, prefixes):
  cpu = max(os.sched_getaffinity(0))
  a = start_bridge(net, 0, prefixes[0], ["--publish", "testMessage", "--bind", net.addrs[0], "--rt", "10",
                                         "--cpu", str(cpu)])

  def threads():
    return {int(t): open(f"/proc/{a.pid}/task/{t}/comm").read().strip() for t in os.listdir(f"/proc/{a.pid}/task")}
  # the relay and libzmq's I/O thread among them
  assert wait_for(lambda: {"bridge out", "ZMQbg/IO/0"} <= set(threads().values())), threads()
  tids = list(threads())
  assert {(os.sched_getscheduler(t), os.sched_getparam(t).sched_priority) for t in tids} == {(os.SCHED_FIFO, 10)}
  assert all(os.sched_getaffinity(t) == {cpu} for t in tids)
  assert net.stop(a) == 0
  unprivileged = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BRIDGE, "--rt", "10",
                                 "--publish", "testMessage"], env=env_for(prefixes[1]), capture_output=True, text=True,
                                timeout=10)
  assert unprivileged.returncode == 1
  assert "--rt 10: cannot run SCHED_FIFO (Operation not permitted)" in unprivileged.stderr
  no_such_cpu = subprocess.run([BRIDGE, "--cpu", "1023", "--publish", "testMessage"], env=env_for(prefixes[1]),
                               capture_output=True, text=True, timeout=10)
  assert no_such_cpu.returncode == 1 and "--cpu 1023: cannot run there" in no_such_cpu.stderr


def test_link_down_for_2s_loses_only_that_window_counted(net, prefixes):
  pa, pb = prefixes
  a, b, local_py, state = bridge_pair_for_testmessage(net, pa, pb)
  remote = start_peer(net, 1, [sys.executable, PY_PEER, "submaster", "--addr", net.addrs[0]], pb)
  stream = Stream(pa, [local_py])
  stream.run(until=lambda: remote.ready.is_set() and stream.local[local_py], payload=lambda i: b"warm-up")
  stream.run(seconds=1)
  net.set_link(False)
  down_from = len(stream.sent)
  stream.run(seconds=2)
  net.set_link(True)
  down_to = len(stream.sent)
  stream.run(seconds=4)  # TCP's retransmission backs off to ~3 s while the link is down
  last = stream.finish([remote])

  missed = check_in_order(stream.local[local_py], stream.sent, last)
  assert all(down_from <= i < down_to for i in missed), f"lost outside the cut: {missed}"
  st = final_bridge_state(net, b, state)[("testMessage", "subscribe")]
  assert st.lost == len(missed)
  lines, lost = received_hex(remote.finish())
  seqs = [int(line.split()[0]) for line in lines]
  assert seqs == sorted(set(seqs)) and seqs[-1] == last
  gaps = sorted(set(range(seqs[0], last + 1)) - set(seqs))
  assert all(down_from <= i < down_to for i in gaps) and lost == len(gaps)
  assert net.stop(a) == 0


def test_wrong_curve_key_gets_nothing(net, prefixes):
  pa, pb = prefixes
  with prefix_env(pa):
    state_a = messaging.sub_sock("bridgeState", timeout=0)
  a = start_bridge(net, 0, pa, ["--publish", "testMessage", "--bind", net.addrs[0]], key=KEY1)
  with prefix_env(pb):
    local_py = messaging.sub_sock("testMessage", timeout=0)
    state = messaging.sub_sock("bridgeState", timeout=0)
  b = start_bridge(net, 1, pb, ["--from", net.addrs[0], "--subscribe", "testMessage"], key=KEY2)
  wrong = start_peer(net, 1, [sys.executable, PY_PEER, "sub_sock", "--addr", net.addrs[0]], pb, key=KEY2)
  plain = start_peer(net, 1, [CPP_PEER, net.addrs[0]], pb)
  outsider = net.popen(1, [sys.executable, "-c", OUTSIDER, net.addrs[0], zmq.curve_public(KEY1.encode()).decode()],
                       env=env_for(pb), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  right = start_peer(net, 1, [CPP_PEER, net.addrs[0]], pb, key=KEY1)
  stream = Stream(pa)
  stream.run(until=right.ready.is_set, payload=lambda i: b"warm-up")
  stream.run(seconds=1)
  stream.finish([right])
  for peer in (wrong, plain):
    lines = peer.finish()
    assert len(lines) == 1 and lines[0].startswith("error ") and "handshake failed" in lines[0], lines
    assert peer.proc.returncode == 2
  assert outsider.communicate(timeout=10)[0].split() == ["received", "0"]
  assert messaging.drain_sock_raw(local_py) == []
  st = final_bridge_state(net, b, state)[("testMessage", "subscribe")]
  assert (st.messages, st.lost, st.dropped) == (0, 0, 0)
  assert len(received_hex(right.finish())[0]) >= 50  # the right key: about a second of messages
  net.stop(a)
  refused = messaging.drain_sock(state_a)[-1].bridgeState.refusedClients
  assert refused >= 1, "the outsider's key was not refused by the key check"  # the others fail before it


def test_a_hostile_peers_malformed_frames_are_counted_not_raised(net, prefixes):
  pa, pb = prefixes
  hostile = Lines(net.popen(0, [sys.executable, HOSTILE_PEER, "--bind", net.addrs[0]], env=env_for(pa),
                            stdout=subprocess.PIPE, text=True))
  assert hostile.ready.wait(10)
  peer = start_peer(net, 1, [sys.executable, PY_PEER, "submaster", "--addr", net.addrs[0]], pb)
  lines = peer.finish(timeout=30)
  net.stop(hostile.proc)
  assert peer.proc.returncode == 0 and lines[0] == "ready", lines[-3:]
  last, counts = lines[-1].split(), lines[1:-1]
  assert last[0::2] == ["lost", "bad"]
  lost, bad = int(last[1]), int(last[3])
  seqs = [int(line.split()[0]) for line in counts]
  assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and lost == 0
  assert [bytes.fromhex(line.split()[1]) for line in counts[:-1]] == [f"round {i}".encode() for i in seqs[:-1]]
  # three malformed frames before every good one: the first good one's may have come before the subscription
  assert 3 * (len(seqs) - 1) <= bad <= 3 * len(seqs)


def test_prefixes_isolate_and_errors_say_what_is_wrong(net, conduit_prefix):
  # Two pipelines on host A, each bridged on its prefix's own ports.
  names = []
  for i in range(50):
    with prefix_env(f"{conduit_prefix}_{i}"):
      if bridge_port("testMessage") not in [p for _, p in names]:
        names.append((f"{conduit_prefix}_{i}", bridge_port("testMessage")))
    if len(names) == 3:
      break
  (p1, _), (p2, _), (p3, _) = names
  try:
    for p in (p1, p2):
      start_bridge(net, 0, p, ["--publish", "testMessage", "--bind", net.addrs[0]], port=None)
    peers = {p: start_peer(net, 1, [CPP_PEER, net.addrs[0]], p, port=None) for p in (p1, p2)}
    streams = {p1: Stream(p1), p2: Stream(p2)}
    start = time.monotonic()
    while not all(peer.ready.is_set() for peer in peers.values()):
      assert time.monotonic() - start < 15
      for p, s in streams.items():
        s.send(p.encode())
      time.sleep(0.01)
    for p, s in streams.items():
      s.finish([peers[p]])
      payloads = {payload_of(bytes.fromhex(h)) for h in received_hex(peers[p].finish())[0]}
      assert payloads == {p.encode(), b"last"}

    no_bridge = start_peer(net, 1, [sys.executable, PY_PEER, "sub_sock", "--addr", net.addrs[0]], p3, port=None)
    assert "no bridge there" in no_bridge.finish()[0]
    with prefix_env(p1):
      port = bridge_port("can")
    not_published = net.popen(1, [sys.executable, "-c", "import cereal.messaging as m; m.SubMaster(['can'], addr='192.0.2.1')"],
                              env=env_for(p1, port=None), stderr=subprocess.PIPE, text=True)
    err = not_published.communicate(timeout=10)[1]
    assert f"'can' at tcp://192.0.2.1:{port}: the bridge on 192.0.2.1 does not publish it" in err
  finally:
    for p, _ in names:
      shutil.rmtree(f"/dev/shm/conduit_{p}", ignore_errors=True)
