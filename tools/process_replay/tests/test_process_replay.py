"""Process replay on a route recorded in the test (tools/process_replay/fixture.py):
modeld (CPU backend) and the example match their committed references exactly;
a change in the example is caught with a diff naming the field, and the CLI
exits non-zero; the reference command regenerates a matching reference; runs
under heavy CPU load give the same output."""
import os
import subprocess
import sys

import pytest

from tools.process_replay.fixture import write_fixture
from tools.process_replay.process_replay import CONFIGS, check, read_ref, replay, write_ref

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


@pytest.fixture(scope="module")
def route(tmp_path_factory):
  return write_fixture(str(tmp_path_factory.mktemp("route")))


def _cli(*args):
  return subprocess.run([sys.executable, "-m", "tools.process_replay.process_replay", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name, count", [("modeld", 20), ("sensor_filter", 100)])
def test_matches_the_committed_reference(route, name, count):
  results = replay(CONFIGS[name], route)
  assert len(results) == count
  assert check(CONFIGS[name], results) == []
  steps = [step for step, _ in results]
  assert steps == sorted(steps) and steps[-1] == count - 1  # one output per input, in lockstep


def test_a_change_is_caught_naming_the_field(route, tmp_path):
  cfg = CONFIGS["sensor_filter"]
  changed = type(cfg)(**{**cfg.__dict__, "params": {"SensorFilterAlpha": 0.25}})  # the injected change
  results = replay(changed, route)
  diff = check(cfg, results)
  assert diff and all("customReserved0.filtered" in line for line in diff), diff
  assert diff[0].startswith("customReserved0 #1 (frame 1): customReserved0.filtered: ref ")  # #0 is the raw reading
  # The CLI: a reference from the changed process, the unchanged process against it.
  write_ref(cfg, results, str(tmp_path))
  p = _cli(route, "--process", "sensor_filter", "--ref-dir", str(tmp_path))
  assert p.returncode == 1 and "customReserved0.filtered: ref" in p.stdout, p.stdout + p.stderr


def test_update_refs_regenerates_a_matching_reference(route, tmp_path):
  p = _cli(route, "--process", "sensor_filter", "--ref-dir", str(tmp_path), "--update-refs")
  assert p.returncode == 0 and os.path.getsize(tmp_path / "sensor_filter.rlog") > 0, p.stderr
  # Equal to the committed one in every field, exactly, but logMonoTime (the replay's clock).
  regenerated, committed = (
    [{k: v for k, v in ev.items() if k != "logMonoTime"} for _, ev in read_ref(CONFIGS["sensor_filter"], d)]
    for d in (str(tmp_path), os.path.join(ROOT, "tools/process_replay/refs")))
  assert len(committed) == 100 and regenerated == committed
  p = _cli(route, "--process", "sensor_filter", "--ref-dir", str(tmp_path))
  assert p.returncode == 0 and "100 messages match the reference" in p.stdout, p.stdout + p.stderr
  p = _cli(route, "--process", "sensor_filter", "--ref-dir", str(tmp_path / "none"))
  assert p.returncode == 1 and "--update-refs" in p.stderr


def test_same_output_under_heavy_cpu_load(route):
  hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * os.cpu_count())]
  try:
    for name in ("modeld", "sensor_filter"):
      a, b = replay(CONFIGS[name], route), replay(CONFIGS[name], route)
      assert check(CONFIGS[name], a) == [] and check(CONFIGS[name], b) == []
      assert [s for s, _ in a] == [s for s, _ in b]
  finally:
    for h in hogs:
      h.kill()
      h.wait()
