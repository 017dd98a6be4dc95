"""Benchmark `process_replay`: how fast process replay drives a process in
lockstep, and what the fake-event handshake costs.

lockstep/modeld and lockstep/example: tools/process_replay on a synthetic
fixture route (3 s; modeld's at camera resolution, CPU backend), the whole
run timed (process start and stop included): realtime_factor = route seconds
per second of replay, msgs_per_s = inputs fed (messages and frames) per second.

fake_event/64B: a 64-byte send, then wait_lockstep() until a lockstep
subscriber in another process took it and went back to wait. Its competitor,
plain_send/64B, is the same round trip without lockstep: a send, and the
subscriber's 64-byte echo received. p50 over 2000 round trips, from Python.
Each figure is the median of 3 runs."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
RUNS, ROUND_TRIPS, SECONDS = 3, 2000, 3


def _row(impl, case, metric, value, unit):
  return {'bench': 'process_replay', 'impl': impl, 'case': case, 'metric': metric, 'value': value, 'unit': unit}


ECHO = """
import sys
import cereal.messaging as messaging
sub = messaging.sub_sock("testMessage")
pub = None if sys.argv[1] == "lockstep" else messaging.pub_sock("heartbeat")
print("ready", flush=True)
while True:
  dat = sub.receive()
  if pub is not None and dat is not None:
    pub.send(dat)
"""


def _round_trips(mode):
  import cereal.messaging as messaging
  pub = messaging.pub_sock("testMessage")
  echo = messaging.sub_sock("heartbeat")
  env = dict(os.environ, CONDUIT_LOCKSTEP="1" if mode == "lockstep" else "0")
  child = subprocess.Popen([sys.executable, "-c", ECHO, mode], env=env, stdout=subprocess.PIPE, text=True)
  try:
    child.stdout.readline()
    payload = bytes(64)
    if mode == "lockstep":
      assert pub.wait_lockstep(30000)
    else:
      while pub.subscriber_count() == 0:
        time.sleep(0.001)
    times = []
    for _ in range(ROUND_TRIPS):
      t0 = time.perf_counter_ns()
      pub.send(payload)
      if mode == "lockstep":
        pub.wait_lockstep(-1)
      else:
        echo.receive()
      times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000
  finally:
    child.kill()
    child.wait()


def _replay(name, route, duration_s):
  from tools.process_replay.process_replay import CONFIGS, _segment_inputs, replay
  from tools.lib.route import open_route
  cfg = CONFIGS[name]
  inputs = sum(len(_segment_inputs(seg, cfg)) for seg in open_route(route).segments)
  t0 = time.monotonic()
  replay(cfg, route)
  wall = time.monotonic() - t0
  return duration_s / wall, inputs / wall


def run():
  os.environ['CONDUIT_PREFIX'] = f'procreplay_bench_{os.getpid()}'
  tmp = tempfile.mkdtemp(prefix='process_replay_bench_')
  rows = []
  try:
    fixture = os.path.join(ROOT, 'build', 'bin', 'replay_fixture')
    for case, size in (('modeld', '1928x1208'), ('example', '320x240')):
      subprocess.run([fixture, '--dir', os.path.join(tmp, case), '--segments', '1', '--frames', str(20 * SECONDS),
                      '--size', size, '--gop', '20'], check=True, capture_output=True)
    for case, name in (('modeld', 'modeld'), ('example', 'sensor_filter')):
      runs = [_replay(name, os.path.join(tmp, case, 'fixture--0'), SECONDS) for _ in range(RUNS)]
      rows.append(_row('lockstep', case, 'realtime_factor', statistics.median(r[0] for r in runs), 'x'))
      rows.append(_row('lockstep', case, 'msgs_per_s', statistics.median(r[1] for r in runs), 'msg/s'))
    for impl, mode in (('fake_event', 'lockstep'), ('plain_send', 'plain')):
      rows.append(_row(impl, '64B', 'p50_us', statistics.median(_round_trips(mode) for _ in range(RUNS)), 'us'))
    ratio = rows[-2]['value'] / rows[-1]['value']
    rows.append(_row('fake_event', '64B', 'p50_vs_plain_send', ratio, 'x'))
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(f"/dev/shm/conduit_{os.environ['CONDUIT_PREFIX']}", ignore_errors=True)
  return rows
