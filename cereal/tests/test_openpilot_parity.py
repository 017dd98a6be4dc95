"""cereal.messaging behaves as openpilot's messaging layer documents it, so
code written against openpilot runs unchanged: each test is one item of that
contract (written from openpilot's documented behaviour, not its tests)."""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import cereal.messaging as messaging
from cereal import _cereal
from cereal._cereal import bridge_port
from cereal.services import SERVICE_LIST

MS = 1_000_000


def test_new_message_defaults():
  before = time.monotonic_ns()
  m = messaging.new_message("modelV2")
  assert m.valid is False  # the sender claims validity, as in openpilot
  assert before <= m.logMonoTime <= time.monotonic_ns()
  assert messaging.new_message("can", 2, valid=True).valid is True
  assert len(messaging.new_message("can", size=3).can) == 3
  # No member initialized: which() is the union's default, its first member (as with pycapnp).
  assert messaging.new_message(None).which() == "initData"
  assert messaging.new_message("modelV2", modelV2={"frameId": 7}).modelV2.frameId == 7
  # A list service needs a size: the Cap'n Proto error users catch (openpilot: KjException).
  with pytest.raises(messaging.KjException):
    messaging.new_message("can")
  assert messaging.KjException is messaging.CapnpError and not issubclass(messaging.CapnpError, TypeError)


def test_submaster_frame_and_initial_state():
  sm = messaging.SubMaster(["modelV2", "logMessage"])
  assert sm.frame == -1
  # Services with a frequency start dead, not frequency-ok and invalid; on-demand ones (frequency 0) start fine.
  assert dict(sm.alive) == {"modelV2": False, "logMessage": True}
  assert dict(sm.freq_ok) == {"modelV2": False, "logMessage": True}
  assert dict(sm.valid) == {"modelV2": False, "logMessage": True}
  assert dict(sm.updated) == {"modelV2": False, "logMessage": False}
  assert dict(sm.recv_time) == {"modelV2": 0.0, "logMessage": 0.0} and dict(sm.recv_frame) == {"modelV2": 0, "logMessage": 0}
  assert dict(sm.logMonoTime) == {"modelV2": 0, "logMessage": 0}
  assert dict(sm.seen) == {"modelV2": False, "logMessage": False}
  assert not sm.all_alive() and not sm.all_valid() and not sm.all_freq_ok() and not sm.all_checks()
  assert sm.all_checks(["logMessage"])
  assert sm.data["modelV2"].frameId == 0 and sm["modelV2"].frameId == 0  # default members
  sm.update(0)
  assert sm.frame == 0 and not any(sm.updated.values())

  pm = messaging.PubMaster(["modelV2"])
  msg = messaging.new_message("modelV2", valid=True, modelV2={"frameId": 3})
  pm.send("modelV2", msg)
  sm.update(1000, now_ns=5000 * MS)
  assert sm.frame == 1 and sm.updated["modelV2"] and sm.seen["modelV2"]
  assert sm.recv_frame["modelV2"] == 1 and sm.recv_time["modelV2"] == 5.0
  assert sm.logMonoTime["modelV2"] == msg.logMonoTime and sm.valid["modelV2"] and sm.alive["modelV2"]
  assert sm.data["modelV2"].frameId == 3 and sm["modelV2"].frameId == 3
  assert not sm.freq_ok["modelV2"]  # one receipt is no rate yet


def test_a_dropped_submaster_lets_go_of_its_subscriptions_at_once():
  pub = messaging.pub_sock("can")
  sm = messaging.SubMaster(["can"])
  assert pub.subscriber_count() == 1 and sm.data["can"] is not None
  gc.disable()  # no cycle collection: only reference counting frees it
  try:
    del sm
    assert pub.subscriber_count() == 0
  finally:
    gc.enable()


def test_submaster_sock_is_each_services_socket():
  sm = messaging.SubMaster(["can"], poll="can")
  pm = messaging.PubMaster(["can"])
  assert isinstance(sm.sock["can"], _cereal.SubSocket)
  m = messaging.new_message("can", 1)
  m.can[0].address = 5
  pm.send("can", m)
  assert messaging.recv_one_or_none(sm.sock["can"]).can[0].address == 5  # the SubMaster's own socket
  sm.update(0)
  assert not sm.updated["can"]  # taken above


@pytest.mark.parametrize("kwargs, rate_hz, ok", [
  ({"poll": "modelV2"}, 20, True),        # polled: 16..24 Hz
  ({"poll": "modelV2"}, 13, False),
  ({}, 13, True),                          # not named in poll: half the rate will do (8..24 Hz)
  ({}, 7, False),
  ({"frequency": 5}, 5, True),             # a 20 Hz service in a 5 Hz loop: seen at 4..6 Hz
  ({"frequency": 5}, 20, False),
])
def test_submaster_freq_ok_bounds(kwargs, rate_hz, ok):
  pm = messaging.PubMaster(["modelV2"])
  sm = messaging.SubMaster(["modelV2"], **kwargs)
  t = 1000 * MS
  for _ in range(50):
    pm.send("modelV2", messaging.new_message("modelV2"))
    sm.update(1000, now_ns=t)
    assert sm.updated["modelV2"]
    t += int(1e9 / rate_hz)
  assert sm.freq_ok["modelV2"] is ok and sm.all_freq_ok() is ok


def test_submaster_ignore_lists():
  sm = messaging.SubMaster(["modelV2", "can"], ignore_alive=["can"], ignore_avg_freq=["modelV2"],
                           ignore_valid=["can"])
  assert not sm.all_alive() and sm.all_alive(["can"])
  # all_freq_ok leaves out ignore_avg_freq and ignore_alive services: "can" is not frequency-ok, yet counts as ok.
  assert sm.all_freq_ok(["modelV2"]) and sm.all_freq_ok(["modelV2", "can"]) is True and not sm.freq_ok["can"]
  assert not sm.all_valid() and sm.all_valid(["can"])
  with pytest.raises(ValueError, match="frequency or poll"):
    messaging.SubMaster(["modelV2"], poll="modelV2", frequency=20)


def test_socket_layer():
  ctx = messaging.Context()
  pub = messaging.PubSocket()
  pub.connect(ctx, "can")
  sub = messaging.SubSocket()
  sub.connect(ctx, "can", b"127.0.0.1", conflate=False)
  sub.setTimeout(20)
  assert sub.receive() is None  # times out
  assert sub.receive(non_blocking=True) is None
  poller = messaging.Poller()
  poller.registerSocket(sub)
  assert poller.poll(0) == []
  for a in (1, 2, 3):
    m = messaging.new_message("can", 1)
    m.can[0].address = a
    pub.send(m.to_bytes())
  assert poller.poll(100) == [sub]
  assert messaging.recv_one(sub).can[0].address == 1
  assert messaging.recv_one_or_none(sub).can[0].address == 2
  assert len(messaging.drain_sock_raw(sub)) == 1 and messaging.drain_sock(sub) == []
  pub.send(messaging.new_message("can", 1))
  assert messaging.recv_sock(sub, wait=True).which() == "can"
  conflated = messaging.SubSocket()
  conflated.connect(messaging.context, "can", "127.0.0.1", True)
  for _ in range(3):
    pub.send(messaging.new_message("can", 1))
  assert len(messaging.drain_sock(conflated)) == 1
  # Errors as openpilot names them.
  with pytest.raises(messaging.MessagingError, match="not connected"):
    messaging.SubSocket().receive()
  with pytest.raises(messaging.MultiplePublishersError):
    messaging.pub_sock("can")
  assert issubclass(messaging.MultiplePublishersError, messaging.MessagingError)
  assert messaging.IpcError is messaging.MessagingError


def test_services_table():
  base = bridge_port(next(iter(SERVICE_LIST)))
  for i, (name, s) in enumerate(SERVICE_LIST.items()):
    assert isinstance(s.should_log, bool) and s.frequency >= 0
    assert s.decimation is None or s.decimation >= 1
    assert s.port == bridge_port(name) == base + i  # what the bridge listens on
  assert len({s.port for s in SERVICE_LIST.values()}) == len(SERVICE_LIST)


def test_a_second_publisher_once_the_first_is_gone():
  sub = messaging.sub_sock("can", timeout=1000)
  first = messaging.pub_sock("can")
  with pytest.raises(messaging.MultiplePublishersError, match="already has a live publisher"):
    messaging.pub_sock("can")
  first.close()
  second = messaging.pub_sock("can")
  # Garbage: unreachable in a reference cycle, not yet collected.
  gc.disable()
  try:
    cycle = [second]
    cycle.append(cycle)
    del second, cycle
    third = messaging.PubMaster(["can"])
  finally:
    gc.enable()
  third.send("can", messaging.new_message("can", 1))
  assert messaging.recv_one(sub).which() == "can"


# A process fed in lockstep: every `can` input gives one sensorEvents output,
# stamped with how many times its loop ran.
LOCKSTEP_CHILD = textwrap.dedent("""
  import signal, sys
  import cereal.messaging as messaging
  signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
  messaging.stop_lockstep_on_signal(signal.SIGTERM)
  sm = messaging.SubMaster(["can"])
  pm = messaging.PubMaster(["sensorEvents"])
  loops = 0
  while True:
    sm.update(10)  # a 10 ms timeout: in lockstep only a message ends the wait
    loops += 1
    if sm.updated["can"]:
      out = messaging.new_message("sensorEvents", 1)
      out.sensorEvents[0].sensor = sm["can"][0].address
      out.sensorEvents[0].timestamp = loops
      pm.send("sensorEvents", out)
""")


def _start(code, lockstep=True, **popen):
  env = dict(os.environ, CONDUIT_LOCKSTEP="1" if lockstep else "0")
  return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, **popen)


def test_fake_events_drive_a_process_in_lockstep():
  pm = messaging.PubMaster(["can"])
  out = messaging.sub_sock("sensorEvents")
  proc = _start(LOCKSTEP_CHILD)
  try:
    assert pm.wait_lockstep("can", timeout=30), "the process subscribed and waits"
    for i in range(1, 101):
      m = messaging.new_message("can", 1)
      m.can[0].address = i
      pm.send("can", m)
      assert pm.wait_lockstep("can", timeout=30)
      # Its output is there the moment the handshake returns: no sleep, no poll.
      got = messaging.recv_one_or_none(out)
      assert got is not None and got.sensorEvents[0].sensor == i
      assert got.sensorEvents[0].timestamp == i  # one loop per input: the timeout never fired
      assert messaging.recv_one_or_none(out) is None
    proc.send_signal(signal.SIGTERM)  # ends the lockstep wait; the handler runs
    assert proc.wait(30) == 3
    assert b"Traceback" not in proc.stderr.read()
  finally:
    proc.kill()
    proc.wait()


# A second lockstep subscriber of `can` that only waits, and says when it is attached.
WAITING_CHILD = textwrap.dedent("""
  import cereal.messaging as messaging
  sm = messaging.SubMaster(["can"])
  print("attached", flush=True)
  while True:
    sm.update(10)
""")


def _send_can(pm, address):
  m = messaging.new_message("can", 1)
  m.can[0].address = address
  pm.send("can", m)


def test_fake_events_a_dead_process_is_noticed():
  pm = messaging.PubMaster(["can"])
  out = messaging.sub_sock("sensorEvents")
  live = _start(LOCKSTEP_CHILD)
  dead = None
  try:
    assert pm.wait_lockstep("can", timeout=30), "the first subscribed and waits"
    dead = _start(WAITING_CHILD, stdout=subprocess.PIPE)
    assert dead.stdout.readline() == b"attached\n"
    assert pm.wait_lockstep("can", timeout=30), "both subscribed and wait"
    _send_can(pm, 1)
    assert pm.wait_lockstep("can", timeout=30)
    assert messaging.recv_one_or_none(out).sensorEvents[0].sensor == 1
    dead.kill()
    dead.wait()
    _send_can(pm, 2)
    # The live one reports done; the dead one is found dead and discounted.
    assert pm.wait_lockstep("can", timeout=30) is True
    assert messaging.recv_one_or_none(out).sensorEvents[0].sensor == 2
  finally:
    for proc in filter(None, (live, dead)):
      proc.kill()
      proc.wait()


def test_fake_events_in_process_and_readers_updated():
  pub = messaging.pub_sock("can")
  plain = messaging.sub_sock("can")
  assert pub.all_readers_updated()
  pub.send(messaging.new_message("can", 1))
  assert not pub.all_readers_updated()
  messaging.recv_one(plain)
  assert pub.all_readers_updated()
  assert not pub.wait_lockstep(0)  # no lockstep subscriber
  messaging.toggle_fake_events(True)
  try:
    assert messaging.lockstep_default()
    lock = messaging.sub_sock("can", timeout=5)
  finally:
    messaging.toggle_fake_events(False)
  pub.send(messaging.new_message("can", 1))
  assert messaging.recv_one(lock) is not None
  assert not pub.wait_lockstep(0)  # taken, but not done with yet
  lock.done()  # the subscriber-side "done with it"
  assert pub.wait_lockstep(0)
