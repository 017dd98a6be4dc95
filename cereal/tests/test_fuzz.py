"""log_from_bytes on random and mutated inputs: every outcome is a reader or a
Python exception (CapnpError / ValueError), never a crash or another error."""
import random

import pytest

import cereal.messaging as messaging
from cereal import log
from cereal.services import SERVICE_LIST

CASES = 10000


def valid_messages():
  msgs = []
  for i, service in enumerate(SERVICE_LIST):
    field = log.Event.field_info[service]
    m = messaging.new_message(service, 3 if field["kind"] == "list" else None)
    msgs.append(m.to_bytes())
  m = messaging.new_message("modelV2")
  m.modelV2.laneLines = [{"x": [1.0] * 5, "y": [2.0]}] * 3
  m.modelV2.backend = "cpu"
  m.modelV2.rawPredictions = bytes(range(200))
  msgs.append(m.to_bytes())
  m = messaging.new_message("managerState")
  m.managerState.processes = [{"name": f"p{i}", "pid": i} for i in range(4)]
  msgs.append(m.to_bytes())
  return msgs


def mutate(rng, data):
  b = bytearray(data)
  kind = rng.randrange(6)
  if kind == 0:  # flip bits
    for _ in range(rng.randint(1, 8)):
      i = rng.randrange(len(b))
      b[i] ^= 1 << rng.randrange(8)
  elif kind == 1:  # overwrite a word with random bits (often a pointer)
    i = rng.randrange(len(b) // 8) * 8
    b[i:i + 8] = rng.randbytes(8)
  elif kind == 2:  # truncate to a word boundary
    b = b[:rng.randrange(len(b) // 8) * 8]
  elif kind == 3:  # truncate anywhere
    b = b[:rng.randrange(len(b))]
  elif kind == 4:  # corrupt the segment table
    b[rng.randrange(8)] = rng.randrange(256)
  else:  # append garbage
    b += rng.randbytes(rng.randrange(1, 5) * 8)
  return bytes(b)


def read_everything(data):
  r = messaging.log_from_bytes(data)
  r.which()
  r.to_dict()
  r.to_json()
  str(r)


def test_fuzz_log_from_bytes():
  rng = random.Random(1234)
  seeds = valid_messages()
  outcomes = {"ok": 0, "error": 0}
  for case in range(CASES):
    if case % 4 == 0:
      data = rng.randbytes(rng.randrange(0, 64) * 8 + rng.choice((0, 0, 0, 3)))
    else:
      data = mutate(rng, rng.choice(seeds))
    try:
      read_everything(data)
      outcomes["ok"] += 1
    except ValueError as e:  # CapnpError is a ValueError
      assert str(e), f"case {case}: empty error message"
      outcomes["error"] += 1
  # Both outcomes occur: the fuzzer really produces readable and unreadable input.
  assert outcomes["ok"] > CASES // 20 and outcomes["error"] > CASES // 20, outcomes


def test_fuzz_through_submaster():
  """Garbage published on a topic is dropped and counted; good messages still flow."""
  rng = random.Random(99)
  pm = messaging.PubMaster(["can"])
  sm = messaging.SubMaster(["can"])
  good = messaging.new_message("can", 1)
  good.can[0].address = 77
  good_bytes = good.to_bytes()
  sent_bad = 0
  for i in range(300):
    if i % 3 == 0:
      pm.send("can", good_bytes)
    else:
      pm.send("can", rng.randbytes(rng.randrange(1, 40) * 8))
      sent_bad += 1
    sm.update(0)
    if sm.updated["can"]:
      sm["can"].to_dict()  # readable: the garbage that passed validation is still safe to read
  assert sm.bad_messages["can"] > 0
  assert sm.lost["can"] == 0
  assert sm.recv_frame["can"] > 0


@pytest.mark.parametrize("data", [b"", b"\x00" * 8, b"\xff" * 8, b"\x00\x00\x00\x00\x01\x00\x00\x00", b"\xff" * 64])
def test_edge_inputs(data):
  try:
    read_everything(data)
  except ValueError:
    pass
