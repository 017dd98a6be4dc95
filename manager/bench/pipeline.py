"""tools/bench/run pipeline: the pipeline for 30 s under the manager, in two
cases: `default` (synthetic road + wide cameras at 1928x1208, modeld, road H.265,
qcamera, loggerd; the configuration the targets name) and `road_wide_hevc`
(the same with the wide camera encoded to H.265 too, as ./launch does).
Measured from outside: CPU per process from /proc over the steady part of the run, latencies
from the recorded route (start of frame -> modelV2 published, -> EncodeData
published) and from polling the road video file (-> bytes on disk), and the
drops of every stage. The first WARMUP seconds are left out."""
import bisect
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PYTHON = '/usr/bin/python3'
DURATION = float(os.environ.get('PIPELINE_BENCH_SECONDS', 30))
WARMUP = 8.0
PROCS = ('camerad', 'modeld', 'encoderd', 'loggerd')


def _children(pid):
  from common.proc import children
  kids = {}
  for child in children(pid):
    try:
      cmd = open(f'/proc/{child}/cmdline', 'rb').read().decode(errors='replace')
    except OSError:
      continue  # gone already
    for name in PROCS:
      if f'build/bin/{name}' in cmd:
        kids[name] = child
  return kids


class FileSizePoller(threading.Thread):
  """Records (time, size) of every fcamera.hevc of the route as it grows."""

  def __init__(self, root):
    super().__init__(daemon=True)
    self.root = root
    self.samples = {}  # path -> [(mono_ns, size)]
    self.stop = False

  def run(self):
    # A new file appears once a segment: listing the directories every 100 ms is
    # enough. This poller shares the CPU with the pipeline it measures: globbing
    # every 1 ms took 12% of a core; a stat every 2 ms takes ~2% (2 ms is small
    # against the ~100 ms it measures).
    paths, next_glob = [], 0
    while not self.stop:
      now = time.monotonic_ns()
      if now >= next_glob:
        paths = glob.glob(os.path.join(self.root, '*', 'fcamera.hevc'))
        next_glob = now + 100_000_000
      for path in paths:
        try:
          size = os.stat(path).st_size
        except FileNotFoundError:
          continue
        s = self.samples.setdefault(path, [])
        if not s or s[-1][1] != size:
          s.append((now, size))
      time.sleep(0.002)


def _pct(values, q):
  values = sorted(values)
  return values[min(len(values) - 1, int(q / 100 * len(values)))] if values else float('nan')


def run_case(case, encoded):
  sys.path.insert(0, ROOT)
  from common.proc import cpu_ticks
  from loggerd.logreader import LogReader
  from manager.params import Params

  tmp = tempfile.mkdtemp(prefix='pipeline_bench_')
  prefix = f'pipebench{os.getpid()}'
  env = dict(os.environ, CONDUIT_PREFIX=prefix, CONDUIT_LOG_ROOT=os.path.join(tmp, 'routes'),
             CONDUIT_PARAMS_DIR=os.path.join(tmp, 'params'), PYTHONPATH=ROOT)
  os.makedirs(env['CONDUIT_PARAMS_DIR'], mode=0o700)
  params = Params(env['CONDUIT_PARAMS_DIR'])
  params.put('SegmentSeconds', 60)
  params.put('LogRoot', env['CONDUIT_LOG_ROOT'])
  params.put('EncodedCameras', encoded)

  poller = FileSizePoller(env['CONDUIT_LOG_ROOT'])
  poller.start()
  mgr = subprocess.Popen([PYTHON, '-m', 'manager.manager', '--duration', str(DURATION)], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    time.sleep(WARMUP)
    kids = _children(mgr.pid)
    t0, cpu0 = time.monotonic(), {n: cpu_ticks(p) for n, p in kids.items()}
    time.sleep(max(1.0, DURATION - WARMUP - 2.0))
    t1, cpu1 = time.monotonic(), {n: cpu_ticks(p) for n, p in kids.items()}
    mgr.wait(timeout=DURATION + 20)
  finally:
    if mgr.poll() is None:
      mgr.send_signal(signal.SIGTERM)
      mgr.wait(timeout=20)
    poller.stop = True
    poller.join()
  hz = os.sysconf('SC_CLK_TCK')
  rows = []
  for name in PROCS:
    if cpu0.get(name) is not None and cpu1.get(name) is not None:
      pct = 100.0 * (cpu1[name] - cpu0[name]) / hz / (t1 - t0)
      rows.append(dict(bench='pipeline', impl=name, case=case, metric='cpu_pct', value=round(pct, 1), unit='%'))

  # The recorded route: latencies and drops after the warm-up.
  routes = sorted(glob.glob(os.path.join(env['CONDUIT_LOG_ROOT'], '*--0')))
  if not routes:
    raise RuntimeError(f'the pipeline recorded no route under {env["CONDUIT_LOG_ROOT"]}')
  route = routes[-1][:-len('--0')]
  sof, model_t, encode_lat, disk_end = {}, {}, [], []
  first_t = None
  # Drop counters are cumulative per stream: steady-state drops are the growth
  # of each counter after the warm-up.
  counters = {}  # stream -> [value at the end of the warm-up, last value]

  def count(stream, value, steady):
    c = counters.setdefault(stream, [value, value])
    if not steady:
      c[0] = value
    c[1] = value

  offsets = {}  # segment dir -> cumulative bytes of its fcamera.hevc
  for ev in LogReader(route):
    w = ev.which()
    t = ev.logMonoTime
    first_t = first_t or t
    steady = t - first_t > WARMUP * 1e9
    if w == 'roadCameraState':
      sof[ev.roadCameraState.frameId] = (ev.roadCameraState.timestampSof, t)
      count('camera_road', ev.roadCameraState.droppedFrames, steady)
    elif w == 'wideRoadCameraState':
      count('camera_wide', ev.wideRoadCameraState.droppedFrames, steady)
    elif w == 'modelV2':
      model_t[ev.modelV2.frameId] = t
    elif w in ('roadEncodeIdx', 'wideRoadEncodeIdx', 'qRoadEncodeIdx'):
      idx = getattr(ev, w)
      count('encoder_' + w, idx.droppedFrames, steady)
      if w == 'roadEncodeIdx':
        seg = f'{route}--{idx.segmentNum}'
        offsets[seg] = offsets.get(seg, 0) + idx.len
        if steady:
          encode_lat.append((t - idx.timestampSof) / 1e6)
          disk_end.append((os.path.join(seg, 'fcamera.hevc'), offsets[seg], idx.timestampSof))
    elif w == 'loggerdState':
      count('loggerd', ev.loggerdState.droppedMessages, steady)

  steady_frames = [f for f, (s, t) in sof.items() if t - first_t > WARMUP * 1e9]
  model_lat = [(model_t[f] - sof[f][0]) / 1e6 for f in steady_frames if f in model_t]
  model_missing = sum(1 for f in steady_frames if f not in model_t)
  disk_lat = []
  for path, end, ts_sof in disk_end:
    samples = poller.samples.get(path, [])
    sizes = [s for _, s in samples]
    i = bisect.bisect_left(sizes, end)
    if i < len(samples):
      disk_lat.append((samples[i][0] - ts_sof) / 1e6)
  grown = {k: last - first for k, (first, last) in counters.items()}
  cam_drops = sum(v for k, v in grown.items() if k.startswith('camera_'))
  enc_drops = sum(v for k, v in grown.items() if k.startswith('encoder_'))
  logger_drops = grown.get('loggerd', 0)
  drops = cam_drops + enc_drops + logger_drops + model_missing
  for metric, value in (('sof_to_model_p50_ms', _pct(model_lat, 50)), ('sof_to_model_p99_ms', _pct(model_lat, 99)),
                        ('sof_to_encode_p50_ms', _pct(encode_lat, 50)), ('sof_to_encode_p99_ms', _pct(encode_lat, 99)),
                        ('sof_to_disk_p50_ms', _pct(disk_lat, 50)), ('sof_to_disk_p99_ms', _pct(disk_lat, 99))):
    rows.append(dict(bench='pipeline', impl='pipeline', case=case, metric=metric, value=round(value, 2), unit='ms'))
  for metric, value in (('drops', drops), ('camera_drops', cam_drops), ('encoder_drops', enc_drops),
                        ('model_missing_frames', model_missing), ('loggerd_dropped_messages', logger_drops),
                        ('steady_road_frames', len(steady_frames))):
    rows.append(dict(bench='pipeline', impl='pipeline', case=case, metric=metric, value=value, unit='count'))
  shutil.rmtree(tmp, ignore_errors=True)
  subprocess.run(['rm', '-rf', f'/dev/shm/conduit_{prefix}'])
  return rows


def run():
  return run_case('default', ['road']) + run_case('road_wide_hevc', ['road', 'wide'])
