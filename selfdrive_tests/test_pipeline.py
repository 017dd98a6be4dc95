"""The whole pipeline under the manager: 20 s, 5 s segments, synthetic road +
wide cameras, modeld, encoderd, loggerd. Mid-run encoderd is SIGKILLed; at the
end the manager gets SIGTERM. Then the recorded route is checked.

Frames are 964x604 (a quarter of the default) so two H.265 streams fit this
2-core machine next to the test itself; the default size is measured by
`tools/bench/run pipeline`."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, ROOT)
PYTHON = '/usr/bin/python3'
from cereal.streams import VIDEOS  # noqa: E402
from common.proc import alive  # noqa: E402
from tools.tests.recording import frame_accounting  # noqa: E402
FPS, SEGMENT_S, RUN_S, KILL_AT_S = 20, 5, 20, 8


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('pipeline')
  prefix = f'pipetest{os.getpid()}'
  env = dict(os.environ, CONDUIT_PREFIX=prefix, CONDUIT_LOG_ROOT=str(tmp / 'routes'),
             CONDUIT_PARAMS_DIR=str(tmp / 'params'), PYTHONPATH=ROOT)
  saved = dict(os.environ)
  os.environ['CONDUIT_PREFIX'] = prefix  # this test's SubMaster joins the pipeline's bus
  import cereal.messaging as messaging
  from manager.params import Params
  os.makedirs(env['CONDUIT_PARAMS_DIR'], mode=0o700)
  params = Params(env['CONDUIT_PARAMS_DIR'])
  params.put('SegmentSeconds', SEGMENT_S)
  params.put('FrameSize', '964x604')
  params.put('LogRoot', env['CONDUIT_LOG_ROOT'])

  sm = messaging.SubMaster(['managerState'])
  mgr = subprocess.Popen([PYTHON, '-m', 'manager.manager'], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  out = []
  reader = threading.Thread(target=lambda: out.extend(mgr.stdout), daemon=True)
  reader.start()
  states, children = [], set()
  killed_pid = None
  t0 = time.monotonic()
  try:
    while time.monotonic() - t0 < RUN_S:
      sm.update(100)
      if sm.updated['managerState']:
        procs = {p.name: (p.pid, p.running, p.restartCount) for p in sm['managerState'].processes}
        states.append(procs)
        children |= {(n, pid) for n, (pid, running, _) in procs.items() if running and pid}
        if killed_pid is None and time.monotonic() - t0 > KILL_AT_S and procs['encoderd'][1]:
          killed_pid = procs['encoderd'][0]
          os.kill(killed_pid, signal.SIGKILL)
    t_stop = time.monotonic()
    mgr.send_signal(signal.SIGTERM)
    mgr.wait(timeout=30)
    stop_s = time.monotonic() - t_stop
  finally:
    if mgr.poll() is None:
      mgr.kill()
    os.environ.clear()
    os.environ.update(saved)
  reader.join(timeout=5)
  info = subprocess.run([os.path.join(ROOT, 'tools', 'route_info'), '--json',
                         max((tmp / 'routes').glob('*--0')).name[:-3]],
                        env=env, capture_output=True, text=True)
  assert info.returncode == 0, info.stderr
  yield dict(states=states, children=children, killed_pid=killed_pid, stop_s=stop_s, out=''.join(out),
             route=json.loads(info.stdout), root=tmp / 'routes', env=env)
  subprocess.run(['rm', '-rf', f'/dev/shm/conduit_{prefix}'])


def test_every_process_stays_up_and_encoderd_is_restarted(run):
  assert run['killed_pid'], 'encoderd never ran'
  last = run['states'][-1]
  for name in ('camerad', 'modeld', 'encoderd', 'loggerd'):
    assert last[name][1], f'{name} not running at the end: {last[name]}\n{run["out"][-3000:]}'
  assert last['encoderd'][2] == 1, 'managerState does not show the encoderd restart'
  assert last['encoderd'][0] != run['killed_pid']
  for name in ('camerad', 'modeld', 'loggerd'):
    assert last[name][2] == 0, f'{name} restarted: {run["out"][-3000:]}'


def test_sigterm_stops_everything_within_6_s(run):
  assert run['stop_s'] < 6.0
  left = [(n, pid) for n, pid in run['children'] if alive(pid)]
  assert not left, f'still running after the manager stopped: {left}'
  assert not list(run['root'].rglob('*.lock')), 'lock files left behind'


def encode_indexes(segs):
  """Per video file: the EncodeIndex messages of each encoderd run, in log order,
  as (segment number, index). A run starts where encodeId starts over."""
  from loggerd.logreader import LogReader
  services = {v.idx_service: v.file for v in VIDEOS.values()}
  runs = {f: [] for f in services.values()}
  for s in segs:
    for ev in LogReader(os.path.join(s['dir'], 'rlog.zst')):
      f = services.get(ev.which())
      if f is not None:
        idx = getattr(ev, ev.which())
        if not runs[f] or idx.encodeId <= runs[f][-1][-1][1].encodeId:
          runs[f].append([])
        runs[f][-1].append((s['number'], idx))
  return runs


def test_route_segments_have_every_file_and_no_uncounted_frame_loss(run):
  segs = run['route']['segments']
  assert len(segs) >= 3, f'{len(segs)} segments in a {RUN_S} s run of {SEGMENT_S} s segments'
  for s in segs:
    files = set(os.listdir(s['dir']))
    for f in ('rlog.zst', 'qlog.zst', 'fcamera.hevc', 'ecamera.hevc', 'qcamera.ts'):
      assert f in files, f'segment {s["number"]} lacks {f}: {files}'
  # A loaded host makes encoderd drop frames, which it counts (droppedFrames);
  # no frame may go missing uncounted. Each output's ids are checked within an
  # encoderd run: the SIGKILL loses the killed encoderd's packets by design.
  runs = encode_indexes(segs)
  every = {t['number']: t['videos'] for t in segs}
  for name in ('fcamera.hevc', 'ecamera.hevc', 'qcamera.ts'):
    assert len(runs[name]) == 2, f'{name}: {len(runs[name])} encoderd runs, expected 2 (one restart)'
    counted = set()
    for r in runs[name]:
      dropped, uncounted = frame_accounting([idx for _, idx in r])
      assert not uncounted, f'{name}: frames missing without a drop count (after id, next id, missing): {uncounted}'
      counted |= dropped
    # Complete segments: every one but the first (loggerd may subscribe after
    # the encoders' first packets), the last (cut by the stop), and those from
    # the killed encoderd's last packet through the restarted encoderd's first
    # and at least the one after the kill (packets after the kill are gone).
    kill_seg, restart_seg = runs[name][0][-1][0], runs[name][1][0][0]
    complete = [s for s in segs[1:-1] if not kill_seg <= s['number'] <= max(restart_seg, kill_seg + 1)]
    assert complete, f'{name}: no complete segment; killed in {kill_seg}, restarted in {restart_seg}'
    for s in complete:
      ids = [idx for r in runs[name] for n, idx in r if n == s['number']]
      starts = {idx.frameId - idx.segmentId for idx in ids}  # the segment's first camerad frame id
      assert len(starts) == 1, f'segment {s["number"]} {name}: packets of several segments: {sorted(starts)}'
      start = starts.pop()
      produced = set(range(start, start + FPS * SEGMENT_S))
      in_file = {idx.frameId for idx in ids}
      v = s['videos'][name]
      assert v.get('frames') == v.get('indexed') == len(ids) == len(in_file), f'segment {s["number"]} {name}: {v}'
      # Every frame camerad produced for this segment is in the file or counted
      # dropped, and the encoder still encodes (a floor far under any load seen).
      assert len(in_file) >= len(produced) // 10, f'segment {s["number"]} {name}: {len(in_file)} of {len(produced)}: {v}'
      assert in_file <= produced and produced - in_file <= counted, (
        f'segment {s["number"]} {name}: {len(in_file)} in the file, '
        f'{len((produced - in_file) & counted)} counted dropped, of {len(produced)}: {v}; all: {every}')


def test_model_ran_on_95_percent_of_road_frames_and_state_was_logged(run):
  services = run['route']['services']
  assert services.get('modelV2', 0) >= 0.95 * services['roadCameraState'], services
  assert services.get('managerState', 0) >= RUN_S, services  # 2 Hz


def test_logs_end_with_sentinels(run):
  from loggerd.logreader import LogReader
  segs = run['route']['segments']
  last = list(LogReader(os.path.join(segs[-1]['dir'], 'rlog.zst')))
  assert last[0].which() == 'initData' and last[1].which() == 'sentinel'
  assert last[-1].which() == 'sentinel'
  assert str(last[-1].sentinel.type) == 'endOfRoute'
  assert last[-1].sentinel.signal == signal.SIGINT  # the manager stops children with SIGINT
  first = list(LogReader(os.path.join(segs[0]['dir'], 'rlog.zst')))
  assert str(first[-1].sentinel.type) == 'endOfSegment'
