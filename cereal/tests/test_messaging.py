"""cereal.messaging: sockets, PubMaster / SubMaster state, helpers, the GIL."""
import threading
import time

import pytest

import cereal.messaging as messaging

MS = 1_000_000


def can_msg(address, valid=True):
  m = messaging.new_message("can", 1, valid=valid)
  m.can[0].address = address
  return m


def test_new_message_stamps_time_and_valid():
  before = time.monotonic_ns()
  m = messaging.new_message("sensorEvents", 2)
  after = time.monotonic_ns()
  assert before <= m.logMonoTime <= after
  assert m.valid is False and m.which() == "sensorEvents" and len(m.sensorEvents) == 2
  m = messaging.new_message(valid=False, logMonoTime=5)
  assert (m.logMonoTime, m.valid) == (5, False)
  assert messaging.new_message("sentinel", sentinel={"type": "endOfRoute"}).sentinel.type == "endOfRoute"
  with pytest.raises(messaging.CapnpError, match="Event.can is a list: init\\(\\) needs a size"):
    messaging.new_message("can")
  with pytest.raises(AttributeError, match="Event has no field 'noSuchService'"):
    messaging.new_message("noSuchService")
  with pytest.raises(TypeError, match="expected the Event schema of cereal/log.capnp, found FrameData"):
    messaging._new_event(messaging.log.FrameData, None, None, {})


def test_sockets_and_helpers():
  sub = messaging.sub_sock("can", timeout=10)
  pub = messaging.pub_sock("can")
  assert messaging.recv_one(sub) is None  # times out
  assert messaging.recv_one_or_none(sub) is None
  for a in range(1, 4):
    pub.send(can_msg(a).to_bytes())
  assert messaging.recv_one(sub).can[0].address == 1
  assert [m.can[0].address for m in messaging.drain_sock(sub)] == [2, 3]
  assert messaging.drain_sock_raw(sub) == []
  for a in range(4, 7):
    pub.send(can_msg(a))  # builders are sent directly
  assert messaging.recv_sock(sub).can[0].address == 6
  assert messaging.recv_sock(sub) is None
  pub.send(can_msg(9))
  assert messaging.recv_one_retry(sub).can[0].address == 9
  with pytest.raises(messaging.MsgqError, match="no bridge there"):
    messaging.sub_sock("can", addr="127.0.0.2")  # loopback, where no bridge listens


def test_conflate_keeps_newest():
  sub = messaging.sub_sock("can", conflate=True, timeout=100)
  pub = messaging.pub_sock("can")
  for a in range(5):
    pub.send(can_msg(a))
  assert messaging.recv_one(sub).can[0].address == 4
  assert messaging.recv_one_or_none(sub) is None


def test_poller():
  poller = messaging.Poller()
  a = messaging.sub_sock("can", poller=poller)
  b = messaging.sub_sock("sensorEvents", poller=poller)
  pub = messaging.pub_sock("sensorEvents")
  assert poller.poll(0) == []
  pub.send(messaging.new_message("sensorEvents", 1))
  ready = poller.poll(1000)
  assert len(ready) == 1 and ready[0] is b and ready[0] is not a
  assert messaging.recv_one(b).which() == "sensorEvents"


def test_submaster_basics():
  pm = messaging.PubMaster(["can", "modelV2"])
  sm = messaging.SubMaster(["can", "modelV2"])
  assert not sm.updated["can"] and not sm.alive["can"] and not sm.valid["can"]
  assert sm.event("can").which() == "can" and len(sm["can"]) == 0  # a default message
  assert sm["modelV2"].frameId == 0

  pm.send("can", can_msg(0x42))
  sm.update(1000)
  assert dict(sm.updated) == {"can": True, "modelV2": False}
  assert sm.updated_services() == ["can"]
  assert sm["can"][0].address == 0x42
  assert sm.alive["can"] and sm.valid["can"] and sm.recv_frame["can"] == sm.frame == 0
  assert sm.logMonoTime["can"] <= sm.recv_time_ns["can"]
  assert abs(sm.recv_time["can"] - sm.recv_time_ns["can"] * 1e-9) < 1e-6
  assert "can" in sm and "sensorEvents" not in sm

  held = sm["can"]
  for a in range(10):
    pm.send("can", can_msg(a, valid=False))
    sm.update(1000)
  assert held[0].address == 0x42  # an old reader stays valid
  assert sm["can"][0].address == 9 and not sm.valid["can"]
  assert not sm.all_valid() and sm.all_valid(["modelV2"]) is False
  assert sm.all_valid([]) is False  # [] is every service, as in openpilot

  # sm[name] is the same reader until name's next message, whatever else arrives.
  model, can = sm["modelV2"], sm["can"]
  pm.send("modelV2", messaging.new_message("modelV2", modelV2={"frameId": 3}))
  sm.update(1000)
  assert sm["can"] is can and sm["modelV2"] is not model and sm["modelV2"].frameId == 3
  sm.update(0)
  assert sm["can"] is can and sm["modelV2"] is sm["modelV2"]


def test_submaster_update_arguments():
  """update is a plain C function (no pybind11 dispatch): same arguments, same errors."""
  pm = messaging.PubMaster(["can"])
  sm = messaging.SubMaster(["can"])
  pm.send("can", can_msg(1))
  sm.update(timeout=0, now_ns=7 * MS)
  assert sm.updated["can"] and sm.recv_time_ns["can"] == 7 * MS and sm.frame == 0
  pm.send("can", can_msg(2))
  sm.update(0, 9 * MS)
  assert sm.recv_time_ns["can"] == 9 * MS and sm["can"][0].address == 2
  sm.update(0, None)
  sm.update()  # default timeout: 100 ms, nothing arrives
  assert sm.frame == 3 and not sm.updated["can"]
  for args, kwargs, error in [((1, 2, 3), {}, TypeError), ((), {"timeout_ms": 1}, TypeError),
                              ((0,), {"timeout": 0}, TypeError), (("10",), {}, TypeError),
                              ((1.5,), {}, TypeError), ((0, 1.5), {}, TypeError), ((0, -1), {}, OverflowError),
                              ((2**40,), {}, OverflowError)]:
    with pytest.raises(error):
      sm.update(*args, **kwargs)
  assert sm.frame == 3  # a rejected call changes nothing


def test_submaster_update_raises_msgq_errors(conduit_prefix):
  """C++ errors from the plain-function update() become the same Python exceptions."""
  pm = messaging.PubMaster(["modelV2", "can"])
  sm = messaging.SubMaster(["modelV2", "can"])  # modelV2 is taken first
  pm.send("modelV2", messaging.new_message("modelV2", modelV2={"frameId": 1}))
  sm.update(0)
  assert sm["modelV2"].frameId == 1
  pm.send("modelV2", messaging.new_message("modelV2", modelV2={"frameId": 2}))
  pm.send("can", can_msg(1))
  with open(f"/dev/shm/conduit_{conduit_prefix}/can", "r+b") as f:
    f.seek(8192 + 8)  # the first message's size field, after the 8 KiB ring header and its seq
    f.write((1 << 30).to_bytes(4, "little"))
  with pytest.raises(messaging.MsgqError, match="corrupt message header"):
    sm.update(0)
  assert sm.updated["modelV2"] and sm["modelV2"].frameId == 2  # taken before the error, and shown
  pm.send("can", can_msg(2))
  sm.update(0)
  assert sm.updated["can"] and sm["can"][0].address == 2


def test_submaster_update_keeps_its_master_alive():
  pm = messaging.PubMaster(["can"])
  update = messaging.SubMaster(["can"]).update  # the wrapper is gone after this line
  pm.send("can", can_msg(3))
  update(1000)
  update(0)


def test_submaster_state_views_and_dicts():
  pm = messaging.PubMaster(["can", "modelV2"])
  sm = messaging.SubMaster(["can", "modelV2"])
  assert dict(sm.recv_frame) == {"can": 0, "modelV2": 0}
  assert dict(sm.recv_time) == {"can": 0.0, "modelV2": 0.0}
  assert dict(sm.logMonoTime) == {"can": 0, "modelV2": 0}
  msg = can_msg(4)
  pm.send("can", msg)
  sm.update(0, now_ns=3_500_000_000)
  assert sm.recv_time["can"] == 3.5 and sm.recv_time_ns["can"] == 3_500_000_000
  assert sm.logMonoTime["can"] == msg.logMonoTime and sm.recv_frame["can"] == sm.frame == 0
  assert list(sm.recv_time) == ["can", "modelV2"] and len(sm.logMonoTime) == 2 and "can" in sm.recv_frame
  assert sm.recv_frame.get("carState", -1) == -1
  with pytest.raises(KeyError):
    sm.recv_time["carState"]
  sm.update(0, now_ns=4_000_000_000)
  assert sm.frame == 1 and sm.recv_frame["can"] == 0 and sm.recv_time["can"] == 3.5  # the last message's

  # The dicts hold the truth after every update, even after someone wrote into them.
  sm.updated["can"] = True
  sm.alive["modelV2"] = True
  sm.update(0)
  assert sm.updated == {"can": False, "modelV2": False} and sm.alive["modelV2"] is False
  assert all(type(v) is bool for d in (sm.updated, sm.alive, sm.valid, sm.freq_ok) for v in d.values())


def test_submaster_alive_and_freq_ok_follow_publisher_rate():
  """A publisher driven by the test at exact rates (receive times given as now_ns).
  Polled at 20 Hz, freq_ok's bounds are 16..24 Hz over 200 intervals, or else the last 20."""
  pm = messaging.PubMaster(["modelV2"])  # 20 Hz service
  sm = messaging.SubMaster(["modelV2"], poll="modelV2")
  t = 10_000 * MS

  def run(n, period_ms):
    nonlocal t
    for _ in range(n):
      pm.send("modelV2", messaging.new_message("modelV2", valid=True))
      sm.update(1000, now_ns=t)
      assert sm.updated["modelV2"]
      t += period_ms * MS

  run(30, 50)
  assert sm.alive["modelV2"] and sm.freq_ok["modelV2"] and sm.all_checks()
  run(30, 100)  # half rate: alive, but not at frequency
  assert sm.alive["modelV2"] and not sm.freq_ok["modelV2"] and not sm.all_freq_ok()
  run(30, 40)  # 25 Hz lately (> 24), 15.7 Hz over all
  assert not sm.freq_ok["modelV2"]
  run(30, 45)  # 17 Hz over all
  assert sm.freq_ok["modelV2"]
  last = sm.recv_time_ns["modelV2"]
  sm.update(0, now_ns=last + 499 * MS)
  assert sm.alive["modelV2"] and not sm.updated["modelV2"]
  sm.update(0, now_ns=last + 501 * MS)  # 10 periods of silence
  assert not sm.alive["modelV2"] and not sm.all_alive() and not sm.all_checks()


def test_submaster_poll_and_ignore():
  pm = messaging.PubMaster(["can", "modelV2"])
  sm = messaging.SubMaster(["can", "modelV2"], poll="modelV2", ignore_alive=["can"], ignore_valid=["can"])
  pm.send("can", can_msg(1, valid=False))
  start = time.monotonic()
  sm.update(100)  # can does not end the wait, but is taken after it
  assert time.monotonic() - start >= 0.09
  assert sm.updated["can"] and not sm.updated["modelV2"]
  assert not sm.all_alive()  # modelV2 never seen
  pm.send("modelV2", messaging.new_message("modelV2", valid=True))
  sm.update(1000)
  assert sm.updated["modelV2"] and sm.all_alive() and sm.all_valid()  # can ignored for both


def test_errors_name_the_problem():
  with pytest.raises(ValueError, match="unknown services \\['carState'\\]"):
    messaging.SubMaster(["carState"])
  with pytest.raises(ValueError, match="unknown services"):
    messaging.PubMaster(["carState"])
  sm = messaging.SubMaster(["can"])
  with pytest.raises(KeyError, match="not subscribed to 'modelV2'"):
    sm["modelV2"]
  with pytest.raises(KeyError):
    sm.updated["modelV2"]
  pm = messaging.PubMaster(["can"])
  with pytest.raises(KeyError, match="does not publish 'modelV2'"):
    pm.send("modelV2", b"")
  with pytest.raises(ValueError, match="the message holds 'sensorEvents', not 'can'"):
    pm.send("can", messaging.new_message("sensorEvents", 1))
  with pytest.raises(TypeError, match="which must be a str"):
    pm.sock["can"].send(messaging.new_message("can", 1), 5)
  with pytest.raises(TypeError, match="send\\(\\) takes bytes or a message builder, found str"):
    pm.sock["can"].send("text")
  with pytest.raises(TypeError, match="whole message"):
    pm.sock["can"].send(messaging.new_message("sentinel").sentinel)
  with pytest.raises(messaging.MsgqError):
    messaging.pub_sock("can")  # a second live publisher


def test_uninitialized_objects_are_refused():
  """X.__new__(X) without __init__ has no C++ object behind it: a TypeError, never a crash."""
  from cereal import _cereal
  for cls in (_cereal.PubSocket, _cereal.SubSocket, _cereal.Poller, _cereal.SubMaster):
    bare = cls.__new__(cls)
    method = next(name for name in dir(cls) if not name.startswith("_"))
    with pytest.raises(TypeError, match="never initialized"):
      getattr(bare, method)
  with pytest.raises(TypeError, match="expected a .*SubSocket"):
    _cereal.Poller().register(_cereal.SubSocket.__new__(_cereal.SubSocket))
  with pytest.raises(TypeError, match="expected a .*SubSocket"):
    _cereal.Poller().register(b"not a socket")

  class Socket(_cereal.SubSocket):  # a Python subclass is guarded too
    pass
  with pytest.raises(TypeError, match="never initialized"):
    Socket.__new__(Socket).receive()
  with pytest.raises(TypeError, match="no keyword arguments"):
    type("Flagged", (_cereal.SubSocket,), {}, flag=1)
  assert Socket("can").receive(non_blocking=True) is None  # and works once initialized


def test_waits_release_the_gil():
  """Another thread keeps running while SubMaster.update, receive and poll sleep."""
  counter = [0]
  stop = threading.Event()

  def spin():
    while not stop.is_set():
      counter[0] += 1

  sm = messaging.SubMaster(["can"])
  sub = messaging.sub_sock("sensorEvents", timeout=200)
  poller = messaging.Poller()
  poller.registerSocket(messaging.sub_sock("modelV2"))
  thread = threading.Thread(target=spin)
  thread.start()
  try:
    for wait in (lambda: sm.update(200), lambda: sub.receive(), lambda: poller.poll(200)):
      before = counter[0]
      wait()
      # Holding the GIL for 200 ms would leave the other thread at most one switch interval (5 ms).
      assert counter[0] - before > 1000
  finally:
    stop.set()
    thread.join()


def test_zmq_backend(monkeypatch):
  monkeypatch.setenv("ZMQ", "1")
  assert messaging.zmq_backend()
  sm = messaging.SubMaster(["can"])
  pm = messaging.PubMaster(["can"])
  for _ in range(200):  # libzmq subscriptions propagate asynchronously
    pm.send("can", can_msg(5))
    sm.update(10)
    if sm.updated["can"]:
      break
  assert sm.updated["can"] and sm["can"][0].address == 5
