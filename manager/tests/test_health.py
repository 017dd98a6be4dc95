"""Health as the processes report it: an encoder forced to drop frames says so in
encoderdState and the status line; the manager's CPU/RSS per process and
deviceState; the status line counts only enabled processes; a clean stop
leaves no shared memory of the prefix."""
import os
import signal
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)

from common import shm  # noqa: E402
from common.testing.wait import wait_for  # noqa: E402
from manager.manager import Manager  # noqa: E402
from manager.process import ProcessSpec  # noqa: E402
from manager.status import StatusLine, status_text, summary_text  # noqa: E402

PY = '/usr/bin/python3'


@pytest.fixture(autouse=True)
def prefix(monkeypatch):
  name = f'health{os.getpid()}'
  monkeypatch.setenv('CONDUIT_PREFIX', name)
  yield name
  subprocess.run(['rm', '-rf', shm.prefix_dir(name)])


def test_an_encoder_forced_to_drop_reports_the_drops_in_encoderdState_and_the_status_line():
  import numpy as np
  import cereal.messaging as messaging
  from visionipc import VISION_STREAM_ROAD, VisionIpcServer
  w, h = 640, 384
  server = VisionIpcServer('camerad')
  server.create_buffers(VISION_STREAM_ROAD, 12, w, h, 'yuv420p')
  server.start_listener()
  sm = messaging.SubMaster(['encoderdState', 'cameradState', 'loggerdState', 'modeldState', 'modelV2'])
  enc = subprocess.Popen([os.path.join(ROOT, 'build/bin/encoderd'), '--cameras', 'road', '--no-qcam'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    assert wait_for(lambda: server.num_clients(VISION_STREAM_ROAD) >= 1, 60), 'encoderd never connected'
    frame = np.full(w * h * 3 // 2, 128, dtype=np.uint8)
    # Frames 4..9 never come: encoderd sees them as dropped (it was too slow for them).
    # Frame 12 comes again after 13: out of order, ignored and counted as an error.
    for i, frame_id in enumerate([0, 1, 2, 3, 10, 11, 12, 13, 12]):
      server.send(VISION_STREAM_ROAD, frame, frame_id, 1000 + i, 2000 + i, True)
    assert server.dropped_frames(VISION_STREAM_ROAD) == 0
    assert wait_for(lambda: sm.update(0) or (sm.recv_frame['encoderdState'] and
                                             sm['encoderdState'].streams[0].dropped == 6), 60), 'no drops reported'
    enc.send_signal(signal.SIGINT)  # flush: every frame sent comes out as a packet, then the final state
    assert enc.wait(60) == 0, enc.stderr.read()
    for _ in range(5):
      sm.update(0)
    road = sm['encoderdState'].streams[0]
    assert (road.name, road.frames, road.dropped, road.errors, road.queueDepth) == ('road', 8, 6, 1, 0)
    assert road.bytes > 0
    assert 'enc drops road 6' in status_text(sm, 1, 1)
    assert 'encoderd road: 8 frames encoded, 6 dropped' in summary_text(sm)
  finally:
    if enc.poll() is None:
      enc.kill()
      enc.wait()


def test_manager_reports_cpu_rss_restarts_and_device_state_and_counts_enabled_processes(capsys, prefix):
  import cereal.messaging as messaging
  hog = 'b = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nwhile True: pass'
  specs = [ProcessSpec('hog', [PY, '-c', hog]),
           ProcessSpec('crasher', [PY, '-c', 'import sys; sys.exit(3)'], restart='always'),
           ProcessSpec('off', [PY, '-c', 'pass'], enabled=lambda p: False)]
  sm = messaging.SubMaster(['managerState', 'deviceState'])
  seen = {}

  def tick(mgr):
    sm.update(0)
    if sm.updated['managerState']:
      for p in sm['managerState'].processes:
        seen[p.name] = tuple(map(max, seen.get(p.name, (0, 0, 0)), (p.memoryRssKb, p.cpuUsagePercent, p.restartCount)))
    if sm.updated['deviceState']:
      seen['device'] = sm['deviceState'].to_dict()
  status = StatusLine()
  Manager(specs, echo=False, on_tick=lambda m: (tick(m), status(m))).run(duration=4.0)
  assert sm.valid['managerState'] and sm.valid['deviceState']  # the manager claims its messages valid
  rss, cpu, _ = seen['hog']
  assert rss >= 64 * 1024, seen
  assert cpu > 0, seen
  assert seen['crasher'][2] >= 1, seen
  assert seen.get('off', (0, 0, 0)) == (0, 0, 0)
  d = seen['device']
  assert len(d['cpuUsagePercent']) == os.cpu_count()
  assert all(0 <= c <= 100 for c in d['cpuUsagePercent'])
  assert 0 < d['memoryUsagePercent'] < 100 and 0 < d['freeSpacePercent'] <= 100 and d['uptimeSeconds'] > 0
  lines = capsys.readouterr().out.splitlines()
  assert lines and all(line.startswith('procs ') and line.split()[1] in ('1/2', '2/2') for line in lines), lines


def test_a_clean_stop_removes_the_prefix_shared_memory_unless_something_uses_it(prefix):
  specs = [ProcessSpec('a', [PY, '-c', 'import time; time.sleep(60)'])]
  status = StatusLine()
  assert Manager(specs, echo=False, on_tick=status).run(duration=1.0) == 0
  assert not os.path.exists(shm.prefix_dir(prefix)), os.listdir(shm.prefix_dir(prefix))

  # A subscriber outside the manager keeps it: removing it would pull the ring from under it.
  user = subprocess.Popen([PY, '-c', 'import sys, cereal.messaging as m; s = m.sub_sock("can"); print("up", flush=True); '
                           'sys.stdin.read()'], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  try:
    assert user.stdout.readline() == 'up\n'
    assert Manager(specs, echo=False).run(duration=1.0) == 0
    assert os.path.exists(os.path.join(shm.prefix_dir(prefix), 'can'))
    assert shm.users(shm.prefix_dir(prefix)) == {user.pid: 'python3'}
  finally:
    user.stdin.close()
    user.wait()
  assert shm.remove(prefix) == {}
  assert not os.path.exists(shm.prefix_dir(prefix))


def test_a_python_process_stopped_by_the_manager_prints_no_traceback(tmp_path, capsys):
  (tmp_path / 'sleeper.py').write_text('import atexit, time\natexit.register(lambda: print("cleaned up", flush=True))\n'
                                       'print("up", flush=True)\ntime.sleep(60)\n')
  spec = ProcessSpec('sleeper', python='sleeper', env={'PYTHONPATH': f'{ROOT}:{tmp_path}'})
  out = []

  def stop_once_up(mgr):
    captured = capsys.readouterr()
    out.extend([captured.out, captured.err])
    if '[sleeper] up' in ''.join(out):
      mgr.request_stop(signal.SIGINT)
  mgr = Manager([spec], publish=False, on_tick=stop_once_up)
  assert mgr.run(duration=60) == 0  # the stop counts as clean
  captured = capsys.readouterr()
  text = ''.join(out) + captured.out + captured.err
  assert '[sleeper] up' in text and '[sleeper] cleaned up' in text, text
  assert 'Traceback' not in text and 'KeyboardInterrupt' not in text, text
  assert mgr.procs[0].exit_code == -signal.SIGINT


def test_loggerd_reports_per_video_packets_drops_and_bytes(tmp_path, prefix):
  import cereal.messaging as messaging
  env = dict(os.environ, CONDUIT_LOG_ROOT=str(tmp_path), LOGGERD_ROUTE='health')
  sm = messaging.SubMaster(['loggerdState'])
  loggerd = subprocess.Popen([os.path.join(ROOT, 'build/bin/loggerd')], env=env, stderr=subprocess.PIPE)
  try:
    assert wait_for(lambda: (tmp_path / 'health--0' / 'rlog.zst').exists(), 60), 'loggerd never started a segment'
    pm = messaging.PubMaster(['roadEncodeData'])
    sizes = [100, 5000, 300, 300, 300, 300]
    for i, n in enumerate(sizes):  # the first is no keyframe: a video must start with one, so it is dropped
      msg = messaging.new_message('roadEncodeData')
      d = msg.roadEncodeData
      d.idx.frameId = d.idx.encodeId = d.idx.segmentId = d.idx.segmentIdEncode = i
      d.idx.flags = 1 if i == 1 else 0
      d.data = bytes([i]) * n
      pm.send('roadEncodeData', msg)

    def counted():
      sm.update(0)
      streams = {s.name: s for s in sm['loggerdState'].streams} if sm.recv_frame['loggerdState'] else {}
      return streams.get('fcamera.hevc') is not None and streams['fcamera.hevc'].frames == 5 and streams
    assert wait_for(counted, 30), sm['loggerdState']
    road = counted()['fcamera.hevc']
    assert (road.frames, road.dropped, road.bytes, road.queueDepth) == (5, 1, sum(sizes[1:]), 0)
    assert sm['loggerdState'].writeErrors == 0
  finally:
    loggerd.send_signal(signal.SIGTERM)
    loggerd.communicate(timeout=30)


def test_camerad_reports_frames_sent_per_camera():
  import cereal.messaging as messaging
  sm = messaging.SubMaster(['cameradState'])
  out = subprocess.run([os.path.join(ROOT, 'build/bin/camerad'), '--cameras', 'road,wide', '--size', '320x240',
                        '--frames', '20'], capture_output=True, text=True, timeout=60)
  assert out.returncode == 0, out.stderr
  for _ in range(5):
    sm.update(0)
  cams = {c.name: c for c in sm['cameradState'].cameras}  # the last state, published on the way out
  want = {'road': (20, 0, 20 * 320 * 240 * 3 // 2), 'wide': (20, 0, 20 * 320 * 240 * 3 // 2)}
  assert {n: (c.frames, c.dropped, c.bytes) for n, c in cams.items()} == want
