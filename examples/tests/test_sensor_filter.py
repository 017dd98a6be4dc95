"""examples/sensor_filter, the worked example: a process from the template,
publishing a message of your own (customReserved0), registered in the
manager's table; fed in lockstep it gives exactly the filter's values."""
import os
import signal
import subprocess
import sys

import pytest

import cereal.messaging as messaging
from manager.params import Params
from manager.process_config import PROCESSES


def test_custom_messages_are_services_in_both_languages():
  assert "customReserved0" in messaging.SERVICE_LIST
  m = messaging.new_message("customReserved0", customReserved0={"filtered": 1.5, "samples": 3})
  back = messaging.log_from_bytes(m.to_bytes())
  assert back.which() == "customReserved0" and back.customReserved0.filtered == 1.5
  assert back.customReserved0.samples == 3
  # C++ sees them too: cereal/tests/test_roundtrip.py sends every service, these included, through C++.


def test_registered_in_the_process_table(tmp_path):
  spec = next(p for p in PROCESSES if p.name == "sensor_filter")
  params = Params(str(tmp_path))
  assert not spec.enabled(params)
  params.put("ExampleEnabled", True)
  assert spec.enabled(params)
  assert spec.command(params)[-1] == "examples.sensor_filter"


def reading(j):
  m = messaging.new_message("sensorEvents", 1, valid=True)
  m.sensorEvents[0].timestamp = 1000 + j
  m.sensorEvents[0].values = [float(j), float(j % 5)]
  return m


@pytest.fixture
def filter_process(tmp_path):
  params_dir = str(tmp_path / "params")
  os.makedirs(params_dir)
  Params(params_dir).put("SensorFilterAlpha", 0.5)
  env = dict(os.environ, CONDUIT_LOCKSTEP="1", CONDUIT_PARAMS_DIR=params_dir)
  proc = subprocess.Popen([sys.executable, "-m", "examples.sensor_filter"], env=env, stderr=subprocess.PIPE, text=True)
  yield proc
  proc.kill()
  proc.wait()


def test_filters_in_lockstep_and_stops_cleanly(filter_process):
  pm = messaging.PubMaster(["sensorEvents", "can"])
  out = messaging.sub_sock("customReserved0")
  assert pm.wait_lockstep("sensorEvents", timeout=30)
  expected = None
  for j in range(20):
    if j == 7:
      can = messaging.new_message("can", 1)
      can.can[0].address = 0x123
      pm.send("can", can)  # not polled: read when the next reading wakes it
    pm.send("sensorEvents", reading(j))
    assert pm.wait_lockstep("sensorEvents", timeout=30)
    got = messaging.recv_one_or_none(out).customReserved0
    value = float(j % 5)
    expected = value if expected is None else expected + 0.5 * (value - expected)
    assert got.filtered == pytest.approx(expected, abs=1e-6)
    assert got.samples == j + 1 and got.sensorTime == 1000 + j
    assert got.lastCanAddress == (0x123 if j >= 7 else 0)
  filter_process.send_signal(signal.SIGINT)
  assert filter_process.wait(30) == 0
  assert "Traceback" not in filter_process.stderr.read()
