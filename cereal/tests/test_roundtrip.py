"""Every service crosses C++ -> Python and Python -> C++ with all field values
checked. Messages are filled from the schema (every field, nested structs,
lists, enums, text, data); the C++ side is build/bin/cereal_roundtrip_helper,
which speaks capnp JSON on its stdio."""
import json
import os
import struct
import subprocess

import pytest

import cereal.messaging as messaging
from cereal import log
from cereal.services import SERVICE_LIST

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HELPER = os.path.join(ROOT, "build", "bin", "cereal_roundtrip_helper")
SERVICES = list(SERVICE_LIST)

_INT_RANGES = {
  "int8": (-2**7, 2**7), "int16": (-2**15, 2**15), "int32": (-2**31, 2**31), "int64": (-2**63, 2**63),
  "uint8": (0, 2**8), "uint16": (0, 2**16), "uint32": (0, 2**32), "uint64": (0, 2**64),
}


def sample(info, seed, depth=0):
  """A deterministic value of the type `info` (StructSchema.field_info), reaching
  the extremes of integer ranges and non-ASCII text."""
  kind = info["kind"]
  if kind == "bool":
    return seed % 2 == 1
  if kind in _INT_RANGES:
    lo, hi = _INT_RANGES[kind]
    return (lo, hi - 1, lo + 1 + seed * 7919 % (hi - lo - 2))[seed % 3]
  if kind == "float32":
    return struct.unpack("f", struct.pack("f", seed * 1.25 - 3.5))[0]
  if kind == "float64":
    return seed * 1.0000001 - 1e6
  if kind == "text":
    return f"t{seed}-é✓"
  if kind == "data":
    return bytes((seed + i * 37) % 256 for i in range(seed % 5 + 1))
  if kind == "enum":
    return info["enumerants"][seed % len(info["enumerants"])]
  if kind == "list":
    return [sample(info["element"], seed * 3 + i, depth + 1) for i in range(seed % 3 + 1)]
  if kind == "struct":
    return sample_struct(info["schema"], seed, depth + 1)
  raise AssertionError(f"no sample for {kind}")


def sample_struct(schema, seed, depth=0, member=None):
  out = {}
  fields = schema.field_info
  unions = [name for name, info in fields.items() if info["union"]]
  chosen = member if member is not None else (unions[seed % len(unions)] if unions else None)
  for i, (name, info) in enumerate(fields.items()):
    if info["union"] and name != chosen:
      continue
    if depth > 3 and info["kind"] in ("struct", "list"):
      continue
    out[name] = sample(info, seed * 31 + i + 1, depth)
  return out


def event_for(service, seed):
  d = sample_struct(log.Event, seed, member=service)
  return d


def from_capnp_json(value, info):
  """capnp's JSON back to our Python form (64-bit ints are strings, Data a list of bytes)."""
  kind = info["kind"]
  if kind in _INT_RANGES:
    return int(value)
  if kind in ("float32", "float64"):
    return float(value)
  if kind == "data":
    return bytes(value)
  if kind == "list":
    return [from_capnp_json(v, info["element"]) for v in value]
  if kind == "struct":
    fields = info["schema"].field_info
    return {k: from_capnp_json(v, fields[k]) for k, v in value.items()}
  return value


def to_capnp_json(value):
  if isinstance(value, bytes):
    return list(value)
  if isinstance(value, dict):
    return {k: to_capnp_json(v) for k, v in value.items()}
  if isinstance(value, list):
    return [to_capnp_json(v) for v in value]
  if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
    return str(value)
  return value


def subset(expected, actual, path="Event"):
  """Every value in `expected` equals the one in `actual` (which may hold more defaults)."""
  if isinstance(expected, dict):
    assert isinstance(actual, dict), path
    for k, v in expected.items():
      assert k in actual, f"{path}.{k} missing"
      subset(v, actual[k], f"{path}.{k}")
  elif isinstance(expected, list):
    assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r} != {expected!r}"
    for i, (e, a) in enumerate(zip(expected, actual)):
      subset(e, a, f"{path}[{i}]")
  else:
    assert actual == expected and type(actual) is type(expected), f"{path}: {actual!r} != {expected!r}"


@pytest.fixture(scope="module")
def helper():
  if not os.path.exists(HELPER):
    pytest.fail(f"{HELPER} is missing: build it with `scons build/bin/cereal_roundtrip_helper`")
  return HELPER


def test_samples_cover_every_kind():
  kinds = set()

  def walk(d, info):
    kinds.add(info["kind"])
    if info["kind"] == "struct":
      for k, v in d.items():
        walk(v, info["schema"].field_info[k])
    elif info["kind"] == "list":
      for v in d:
        walk(v, info["element"])

  for i, s in enumerate(SERVICES):
    walk(event_for(s, i), {"kind": "struct", "schema": log.Event})
  assert {"bool", "uint8", "uint16", "int32", "uint32", "uint64", "float32", "float64", "text", "data",
          "enum", "list", "struct"} <= kinds


def test_python_to_python_every_service():
  for i, service in enumerate(SERVICES):
    expected = event_for(service, i)
    msg = log.Event.new_message(**expected)
    assert msg.which() == service
    subset(expected, msg.to_dict())
    r = messaging.log_from_bytes(msg.to_bytes())
    subset(expected, r.to_dict())
    subset(expected, log.Event.from_json(r.to_json()).to_dict())


def test_cpp_to_python_every_service(helper):
  sm = messaging.SubMaster(SERVICES)
  proc = subprocess.Popen([helper, "pub", *SERVICES], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  try:
    expected = {}
    for i, service in enumerate(SERVICES):
      expected[service] = event_for(service, i)
      # Raw UTF-8: the helper uses capnp 0.9's JSON decoder directly, which mis-decodes \u escapes.
      proc.stdin.write(f"{service}\t{json.dumps(to_capnp_json(expected[service]), ensure_ascii=False)}\n")
      proc.stdin.flush()
      assert proc.stdout.readline() == "sent\n"
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()

  received = set()
  for _ in range(5 * len(SERVICES)):
    sm.update(0)
    for service in sm.updated_services():
      received.add(service)
      msg = sm[service]
      assert msg.which() == service
      subset(expected[service], msg.to_dict(), service)
      assert sm.valid[service] == expected[service]["valid"]
      assert sm.logMonoTime[service] == expected[service]["logMonoTime"]
    if len(received) == len(SERVICES):
      break
  assert received == set(SERVICES)


def test_python_to_cpp_every_service(helper):
  proc = subprocess.Popen([helper, "sub", *SERVICES, "-t", "20000"], stdout=subprocess.PIPE, text=True)
  try:
    assert proc.stdout.readline() == "ready\n"
    pm = messaging.PubMaster(SERVICES)
    expected = {}
    for i, service in enumerate(SERVICES):
      expected[service] = event_for(service, i + 100)
      pm.send(service, log.Event.new_message(**expected[service]))
    out, _ = proc.communicate(timeout=30)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  assert proc.returncode == 0
  got = dict(line.split("\t", 1) for line in out.splitlines())
  assert set(got) == set(SERVICES)
  event_info = {"kind": "struct", "schema": log.Event}
  for service in SERVICES:
    subset(expected[service], from_capnp_json(json.loads(got[service]), event_info), service)
