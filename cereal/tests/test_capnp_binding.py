"""The Cap'n Proto binding: readers, builders, lists, enums, conversions and the
errors a user sees for wrong types, values, fields and union members."""
import json

import numpy as np
import pytest

from cereal import log
from cereal._cereal import CapnpError


def model_message():
  m = log.Event.new_message(logMonoTime=123, valid=False)
  model = m.init("modelV2")
  model.frameId = 7
  model.frameDropPerc = 2.5
  model.backend = "opencl"
  model.rawPredictions = np.arange(4, dtype=np.float32).tobytes()
  model.rowEdges = [0.5, 1.5]
  model.position = {"x": [1.0, 2.0], "t": [0.25]}
  lanes = model.init("laneLines", 2)
  lanes[1].y = [3.0]
  return m


def test_reader_attribute_access_and_which():
  r = log.Event.from_bytes(model_message().to_bytes())
  assert r.which() == "modelV2"
  assert (r.logMonoTime, r.valid) == (123, False)
  model = r.modelV2
  assert model.frameId == 7 and model.frameDropPerc == 2.5 and model.backend == "opencl"
  assert np.frombuffer(model.rawPredictions, dtype=np.float32).tolist() == [0, 1, 2, 3]
  assert list(model.rowEdges) == [0.5, 1.5] and model.rowEdges == [0.5, 1.5]
  assert model.rowEdges[-1] == 1.5 and model.rowEdges[0:1] == [0.5]
  assert list(model.position.x) == [1.0, 2.0] and list(model.position.t) == [0.25]
  assert len(model.laneLines) == 2 and list(model.laneLines[1].y) == [3.0]
  assert model.laneLines[0].y == []
  with pytest.raises(IndexError):
    model.laneLines[2]
  assert "frameId" in dir(model)


def test_enums_are_strings_both_ways():
  m = log.Event.new_message()
  lm = m.init("logMessage")
  lm.level = "warning"
  lm.stream = 1  # by ordinal too
  r = log.Event.from_bytes(m.to_bytes()).logMessage
  assert r.level == "warning" and r.stream == "stderr"
  assert log.LogMessage.Level.warning == "warning"
  assert log.LogMessage.Level.enumerants["critical"] == 4
  with pytest.raises(ValueError, match="no enumerant 'loud'.*debug, info, warning, error, critical"):
    lm.level = "loud"
  with pytest.raises(AttributeError):
    log.LogMessage.Level.loud


def test_to_dict_only_active_union_member():
  d = log.Event.from_bytes(model_message().to_bytes()).to_dict()
  assert set(d) == {"logMonoTime", "valid", "modelV2"}
  assert d["modelV2"]["position"]["x"] == [1.0, 2.0]
  assert d["modelV2"]["laneLines"][1]["y"] == [3.0]
  assert isinstance(d["modelV2"]["rawPredictions"], bytes)


def test_json_round_trip():
  m = model_message()
  text = m.to_json()
  parsed = json.loads(text)
  assert parsed["modelV2"]["frameId"] == 7 and parsed["logMonoTime"] == "123"  # capnp: 64-bit ints as strings
  back = log.Event.from_json(text)
  assert back.to_dict() == m.to_dict()
  assert "\n" in m.to_json(pretty=True)
  with pytest.raises(ValueError):
    log.Event.from_json("{not json")


def test_builder_nested_structs_and_lists():
  m = log.Event.new_message(managerState={"processes": [{"name": "camerad", "pid": 10, "running": True}]})
  procs = m.managerState.processes
  assert procs[0].name == "camerad" and procs[0].running
  procs[0].restartCount = 3
  m.managerState.processes = [{"name": "a"}, {"name": "b", "exitCode": -9}]
  r = log.Event.from_bytes(m.to_bytes())
  assert [p.name for p in r.managerState.processes] == ["a", "b"]
  assert r.managerState.processes[1].exitCode == -9

  # A reader (or builder) of the right type can be assigned and appended.
  m2 = log.Event.new_message()
  m2.managerState = r.managerState
  m2.managerState.processes[0].name = "changed"
  assert r.managerState.processes[0].name == "a"
  assert m2.managerState.processes[1].exitCode == -9

  # Lists of lists, lists from numpy arrays.
  cal = log.Event.new_message(liveCalibration={"warpMatrix": np.eye(3, dtype=np.float32).ravel()})
  assert list(cal.liveCalibration.warpMatrix) == [1, 0, 0, 0, 1, 0, 0, 0, 1]


def test_init_rules():
  m = log.Event.new_message()
  with pytest.raises(CapnpError, match="needs a size"):  # as pycapnp's KjException
    m.init("can")
  with pytest.raises(TypeError, match="takes no size"):
    m.init("sentinel", 3)
  with pytest.raises(TypeError, match="assign it"):
    m.init("logMonoTime")
  can = m.init("can", 3)
  assert len(can) == 3 and m.which() == "can"
  with pytest.raises(IndexError):
    can[3] = {"address": 1}


@pytest.mark.parametrize("field,value,expected", [
  ("frameId", "7", "expected int for UInt32, found str"),
  ("frameId", 1.5, "expected int for UInt32, found float"),
  ("frameId", True, "expected int for UInt32, found bool"),
  ("frameDropPerc", "x", "expected float for Float32, found str"),
  ("frameDropPerc", None, "expected float for Float32, found NoneType"),
  ("backend", b"opencl", "expected str for Text, found bytes"),
  ("rawPredictions", "abc", "expected bytes-like object for Data, found str"),
  ("rowEdges", 3.0, "expected list for List\\(Float32\\), found float"),
  ("rowEdges", ["a"], "ModelDataV2.rowEdges\\[0\\]: expected float for Float32, found str"),
  ("position", [1, 2], "expected dict or struct for XYZTData, found list"),
  ("position", log.FrameData.new_message(), "expected a XYZTData, found a FrameData"),
])
def test_wrong_type_is_type_error(field, value, expected):
  model = log.Event.new_message().init("modelV2")
  with pytest.raises(TypeError, match=expected):
    setattr(model, field, value)


def test_bool_and_range_checks():
  m = log.Event.new_message()
  with pytest.raises(TypeError, match="expected bool for Bool, found int"):
    m.valid = 1
  can = m.init("can", 1)[0]
  can.src = 255
  with pytest.raises(ValueError, match="256 is out of range for UInt8 \\(0..255\\)"):
    can.src = 256
  with pytest.raises(ValueError, match="out of range"):
    can.address = -1
  with pytest.raises(ValueError, match="out of range"):
    m.logMonoTime = 2**64
  m.logMonoTime = 2**64 - 1
  assert m.logMonoTime == 2**64 - 1
  can.address = np.uint32(7)  # numpy integers are ints
  assert can.address == 7


def test_list_keys_field_names_and_bare_objects():
  m = log.Event.new_message()
  can = m.init("can", 3)
  can[-1].address = 9
  assert [f.address for f in can] == [0, 0, 9] and can[2].address == 9
  r = log.Event.from_bytes(m.to_bytes()).can
  assert [f.address for f in r[1:]] == [0, 9] and r[-3].address == 0
  for lst in (can, r):
    with pytest.raises(TypeError, match="list indices must be integers or slices, not str"):
      lst["0"]
    with pytest.raises(IndexError, match="out of range for length 3"):
      lst[-4]
  with pytest.raises(TypeError, match="field names must be str, found int"):
    log.Event.from_dict({1: 2})
  with pytest.raises(TypeError):
    m.init(5, 1)
  # Objects come only from schemas and messages: one with nothing behind it cannot be made.
  for obj in (m, can, r, r[0], log.Event, log.LogMessage.Level):
    with pytest.raises(TypeError, match="cannot be created directly|is not safe"):
      type(obj).__new__(type(obj))
    with pytest.raises(TypeError):
      type(obj)()


def test_unknown_field_is_attribute_error():
  m = log.Event.new_message()
  with pytest.raises(AttributeError, match="Event has no field 'carState'; fields: logMonoTime, valid, initData"):
    m.carState = {}
  with pytest.raises(AttributeError):
    log.Event.new_message(noSuchField=1)
  with pytest.raises(AttributeError):
    log.Event.from_bytes(m.to_bytes()).noSuchField


def test_wrong_union_member_is_clear_error():
  r = log.Event.from_bytes(model_message().to_bytes())
  with pytest.raises(CapnpError, match="Event.can is not set: the active union member is 'modelV2'"):
    r.can
  b = model_message()
  with pytest.raises(CapnpError, match="Event.sentinel is not set"):
    b.sentinel.type = "endOfRoute"
  assert not hasattr(log.Event, "nope")


def test_bytes_handling():
  data = model_message().to_bytes()
  assert len(data) % 8 == 0
  # Unaligned and non-bytes inputs are copied once and read the same.
  buf = bytearray(b"x" + data)
  assert log.Event.from_bytes(memoryview(buf)[1:]).modelV2.frameId == 7
  with pytest.raises(CapnpError, match="whole number of 8-byte words; got 5 bytes"):
    log.Event.from_bytes(b"12345")
  with pytest.raises(CapnpError, match="8 bytes follow the message; use read_multiple_bytes"):
    log.Event.from_bytes(data + bytes(8))
  with pytest.raises(TypeError, match="expected bytes-like message data, found str"):
    log.Event.from_bytes("abc")
  many = log.Event.read_multiple_bytes(data + log.Event.new_message(can=[]).to_bytes() + data)
  assert [e.which() for e in many] == ["modelV2", "can", "modelV2"]


def test_sub_struct_to_bytes_and_builder_reader_conversion():
  m = model_message()
  pos = log.XYZTData.from_bytes(m.modelV2.position.to_bytes())
  assert list(pos.x) == [1.0, 2.0]
  r = m.as_reader()
  assert r.modelV2.frameId == 7
  b = r.as_builder()
  b.modelV2.frameId = 8
  assert r.modelV2.frameId == 7 and b.modelV2.frameId == 8


def test_readers_outlive_their_message_objects():
  lst = log.Event.from_bytes(model_message().to_bytes()).modelV2.laneLines
  sub = log.Event.new_message(can=[{"address": 9}]).can[0]
  assert len(lst) == 2 and sub.address == 9


def test_traversal_limit():
  m = log.Event.new_message()
  m.init("modelV2").rawPredictions = bytes(1 << 16)
  data = m.to_bytes()
  r = log.Event.from_bytes(data, traversal_limit_in_words=64)
  with pytest.raises(CapnpError, match="traversal limit"):
    r.modelV2.rawPredictions


def test_schema_introspection_and_constants():
  assert log.EncodeIndex.flagKeyframe == 1
  assert log.Event.union_fields[0] == "initData"
  info = log.Event.field_info
  assert info["logMonoTime"] == {"kind": "uint64", "union": False}
  assert info["can"]["kind"] == "list" and info["can"]["element"]["schema"] == log.CanData
  assert info["sentinel"]["union"] is True
  assert info["sentinel"]["schema"].field_info["type"]["enumerants"] == [
    "startOfRoute", "endOfRoute", "startOfSegment", "endOfSegment"]
