"""Benchmark Foxglove/MCAP: export speed and live latency.

export: `tools/export --format mcap` (C++ mcap_export behind the Python CLI) on
the synthetic fixture route (tools/replay/fixture_route.h) at camera resolution,
2 segments x 10 s of 1928x1208 H.265 plus 1 kHz sensorEvents, 500 Hz can and the
camera/encode-index messages; its peer is `tools/export --format jsonl` on the
same route in the same run. Case `route` is everything (MCAP with video); case
`messages` is the services jsonl exports (no video), for both. realtime_factor
= route seconds / wall seconds; mb_per_s = input bytes (logs, and videos where
exported) / wall seconds. The machine is shared, so wall time includes waiting
for a core; realtime_factor_cpu = route seconds / CPU seconds (user + system of
the export and its children) says what a free core does. Medians of RUNS.

live: tools/foxglove on an ephemeral port; this process publishes modelV2
(4 lane lines, 4 KB of raw predictions) at RATE Hz for SECONDS, and latency is
receive time at a Node @foxglove/ws-protocol client minus logMonoTime (both
CLOCK_MONOTONIC). Its peer: a Python msgq subscriber in the same run taking the
same messages straight off the bus."""
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin')
FPS, FRAMES, SEGMENTS, SENSOR_HZ, RUNS = 20, 200, 2, 1000, 5
RATE, SECONDS = 50, 5


def _row(impl, case, metric, value, unit):
  return {'bench': 'mcap', 'impl': impl, 'case': case, 'metric': metric, 'value': value, 'unit': unit}


def _timed(args):
  """(wall seconds, CPU seconds) of running args."""
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  t = time.monotonic()
  subprocess.run(args, check=True, capture_output=True, timeout=600)
  wall = time.monotonic() - t
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _size(root, names):
  return sum(os.path.getsize(os.path.join(root, d, n)) for d in os.listdir(root) for n in names
             if os.path.exists(os.path.join(root, d, n)))


def _export_rows(tmp):
  subprocess.run([os.path.join(BIN, 'replay_fixture'), '--dir', tmp, '--size', '1928x1208', '--frames', str(FRAMES),
                  '--segments', str(SEGMENTS), '--gop', '20', '--crf', '24', '--sensor-hz', str(SENSOR_HZ)],
                 check=True, capture_output=True)
  route = os.path.join(tmp, 'fixture')
  route_s = SEGMENTS * FRAMES / FPS
  export = os.path.join(ROOT, 'tools', 'export')
  services = 'initData,sentinel,roadCameraState,roadEncodeIdx,sensorEvents,can,deviceState'
  logs, videos = _size(tmp, ['rlog.zst']), _size(tmp, ['fcamera.hevc'])
  out = os.path.join(tmp, 'out')
  cases = {
    ('mcap_export', 'route'): ([export, route, '--format', 'mcap', '-o', out + '.mcap'], logs + videos),
    ('mcap_export', 'messages'): ([export, route, '--format', 'mcap', '--services', services, '-o', out + '.mcap'], logs),
    ('jsonl_export', 'messages'): ([export, route, '--format', 'jsonl', '--services', services, '-o', out + '.jsonl'], logs),
  }
  walls, cpus = {k: [] for k in cases}, {k: [] for k in cases}
  for _ in range(RUNS):
    for k, (args, _) in cases.items():
      wall, cpu = _timed(args)
      walls[k].append(wall)
      cpus[k].append(cpu)
  rows = []
  for (impl, case), (_, size) in cases.items():
    wall = statistics.median(walls[(impl, case)])
    rows += [_row(impl, case, 'realtime_factor', route_s / wall, 'x'),
             _row(impl, case, 'realtime_factor_cpu', route_s / statistics.median(cpus[(impl, case)]), 'x'),
             _row(impl, case, 'mb_per_s', size / 1e6 / wall, 'MB/s')]
  jsonl, mcap = (statistics.median(walls[(impl, 'messages')]) for impl in ('jsonl_export', 'mcap_export'))
  rows.append(_row('mcap_export', 'messages', 'speedup_vs_jsonl', jsonl / mcap, 'x'))
  return rows


def _model_message(messaging):
  msg = messaging.new_message('modelV2')
  m = msg.modelV2
  m.frameId = 1
  m.rawPredictions = bytes(4096)
  m.backend = 'cpu'
  xs = [float(i) for i in range(33)]
  m.position = {'x': xs, 'y': xs, 'z': xs, 't': xs}
  m.laneLines = [{'x': xs, 'y': xs, 'z': xs, 't': xs} for _ in range(4)]
  m.laneLineProbs = [0.9, 0.8, 0.7, 0.6]
  return msg


def _live_rows():
  prefix = f'mcapbench_{os.getpid()}'
  env = dict(os.environ, CONDUIT_PREFIX=prefix, PYTHONPATH=ROOT)
  os.environ['CONDUIT_PREFIX'] = prefix
  import cereal.messaging as messaging
  from tools.tests.foxglove_check import server_url
  server = subprocess.Popen([os.path.join(ROOT, 'tools', 'foxglove'), '--port', '0'], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
  try:
    url = server_url(server)
    client = subprocess.Popen(['node', os.path.join(ROOT, 'tools', 'tests', 'js', 'ws_client.mjs'), url,
                               str(SECONDS + 1), 'modelV2'], stdout=subprocess.PIPE, text=True)
    pm = messaging.PubMaster(['modelV2'])
    sub = messaging.sub_sock('modelV2', timeout=100)
    direct, stop = [], threading.Event()

    def receive():
      while not stop.is_set():
        dat = sub.receive()
        if dat is not None:
          direct.append((time.monotonic_ns() - messaging.log_from_bytes(dat).logMonoTime) / 1e6)
    reader = threading.Thread(target=receive)
    reader.start()
    time.sleep(1.5)  # the client connects and subscribes
    for _ in range(RATE * SECONDS):
      pm.send('modelV2', _model_message(messaging))
      time.sleep(1 / RATE)
    stop.set()
    reader.join()
    ws = json.loads(client.communicate(timeout=60)[0])['topics']['modelV2']['latency_ms']
  finally:
    server.terminate()
    server.wait(10)
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)
  rows = []
  for impl, lat in (('foxglove_ws', ws), ('msgq_python_sub', direct)):
    lat = sorted(lat)
    rows += [_row(impl, 'modelV2', 'p50_ms', statistics.median(lat), 'ms'),
             _row(impl, 'modelV2', 'p99_ms', lat[int(0.99 * (len(lat) - 1))], 'ms'),
             _row(impl, 'modelV2', 'messages', len(lat), 'msg')]
  return rows


def run():
  tmp = tempfile.mkdtemp(prefix='mcap_bench_')
  try:
    return _export_rows(tmp) + _live_rows()
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
