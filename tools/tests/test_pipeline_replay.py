"""Replay of a route recorded by the real pipeline: camerad (synthetic, 640x480,
70 frames) -> encoderd (H.265 + H.264 qcamera, 30-frame segments) -> loggerd, then replayed into
a private prefix: logged messages come back byte for byte, the frame served at
--start t is the frame logged at t, and served pixels are the synthetic scene
(stamp = frame id, PSNR >= 35 dB)."""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from common.testing.process import stop
from common.testing.wait import wait_for
from tools.tests.recording import Recording, frame_accounting

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin')
W, H, FRAMES, SEG_FRAMES = 640, 480, 70, 30


@pytest.fixture(scope='module')
def recorded(tmp_path_factory):
  for exe in ('camerad', 'encoderd', 'loggerd'):
    if not os.path.exists(os.path.join(BIN, exe)):
      pytest.skip(f'build/bin/{exe} is not built')
  with Recording(tmp_path_factory.mktemp('pipeline'), 'pipeline', SEG_FRAMES) as rec:
    cam = rec.camerad(FRAMES, W, H, stderr=subprocess.PIPE)
    _, err = cam.communicate(timeout=60)
    assert cam.returncode == 0, err
    rec.wait_encoded(FRAMES - 1)
    rec.stop_recording()
  return rec.route


def test_pipeline_route_is_complete(recorded, tool):
  r = json.loads(tool('route_info', '--json', recorded).stdout)
  assert len(r['segments']) >= 2
  frames = 0
  for s in r['segments']:
    v = s['videos']['fcamera.hevc']
    assert v['frames'] == v['indexed'], s
    frames += v['frames']
  # encoderd may drop frames on a loaded machine, but it counts them: every one
  # of camerad's frames is in the video or counted, and segments cut every
  # SEG_FRAMES camerad frames whatever was dropped.
  idxs = _encode_indexes(recorded, 'roadEncodeIdx')
  counted, uncounted = frame_accounting(idxs)
  assert not uncounted, uncounted
  first = min(idxs, key=lambda i: i.frameId)
  assert first.frameId == first.droppedFrames  # the frames before the first packet were counted
  assert len(idxs) == frames >= FRAMES // 2
  assert all(i.segmentNum == i.frameId // SEG_FRAMES and i.segmentId == i.frameId % SEG_FRAMES for i in idxs)


def test_replayed_messages_equal_logged_ones(recorded, conduit_prefix):
  import cereal.messaging as messaging
  from loggerd.logreader import LogReader
  want = {}
  for b in LogReader(recorded, raw=True):
    want.setdefault(messaging.log_from_bytes(b).which(), []).append(bytes(b))
  socks = {s: messaging.sub_sock(s, timeout=0) for s in ('roadCameraState', 'roadEncodeIdx', 'sentinel')}
  p = subprocess.run([os.path.join(BIN, 'replay'), '--fast', '--no-vipc', recorded], capture_output=True, text=True,
                     stdin=subprocess.DEVNULL, timeout=60)
  assert p.returncode == 0, p.stderr
  for name, sock in socks.items():
    got = messaging.drain_sock_raw(sock)
    assert [bytes(g) for g in got] == want[name], name


def _psnr(buf, frame_id):
  from camerad import render
  ref = render('road', frame_id, W, H)
  got = np.concatenate([np.asarray(buf.y), np.asarray(buf.uv)]).astype(np.float64)
  mse = np.mean((got - ref.astype(np.float64)) ** 2)
  return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def _encode_indexes(recorded, service):
  from loggerd.logreader import LogReader
  return [getattr(ev, service) for ev in LogReader(recorded) if ev.which() == service]


def _frame_at(recorded, t):
  import cereal.messaging as messaging
  from loggerd.logreader import LogReader
  start = None
  for b in LogReader(recorded, raw=True):
    ev = messaging.log_from_bytes(b)
    start = start if start is not None else ev.logMonoTime
    if ev.which() == 'roadEncodeIdx' and ev.logMonoTime >= start + int(t * 1e9):
      return ev.roadEncodeIdx.frameId
  raise AssertionError(f'no frame at {t}')


def _connected_client(replay):
  """A VisionIPC client of the road stream the running `replay` serves."""
  from visionipc import VISION_STREAM_ROAD, VisionIpcClient
  client = VisionIpcClient('camerad', VISION_STREAM_ROAD, False)
  assert wait_for(lambda: replay.poll() is not None or client.connect(False), 20), 'replay did not serve VisionIPC'
  assert replay.poll() is None, f'replay exited: {replay.stderr.read()}'
  return client


def test_replayed_frames_start_at_the_right_frame_and_match_the_scene(recorded, conduit_prefix):
  from camerad import read_stamp
  start = 1.3  # in segment 0, a few frames before the boundary to segment 1
  want = _frame_at(recorded, start)
  encoded = sorted(i.frameId for i in _encode_indexes(recorded, 'roadEncodeIdx'))  # what the route holds
  p = subprocess.Popen([os.path.join(BIN, 'replay'), '--loop', '--start', str(start), recorded],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    client = _connected_client(p)
    deadline = time.monotonic() + 20
    ids, restarts, checked = [], 0, 0
    while restarts < 2 and time.monotonic() < deadline:
      dropped = client.dropped
      buf = client.recv(2000)
      assert buf is not None, 'no frame from replay'
      fid = client.frame_id
      missed = client.dropped - dropped  # this client fell behind (VisionIPC counts it)
      if ids and fid < ids[-1]:  # the loop started over at --start
        if missed == 0:
          assert fid == want, f'after a restart at {start} s: frame {fid}, logged at that time: {want}'
        restarts += 1
      elif ids:
        assert fid == encoded[encoded.index(ids[-1]) + 1 + missed], f'frame {fid} after {ids[-1]}, {missed} missed'
      ids.append(fid)
      stamp = read_stamp(np.asarray(buf.y))
      assert stamp is not None and stamp[0] == fid, f'pixels show {stamp}, announced {fid}'
      if checked < 8:  # PSNR is costly in Python; a few frames across the segment boundary
        assert _psnr(buf, fid) >= 35, fid
        checked += 1
    assert max(ids) >= SEG_FRAMES > min(ids)  # crossed the segment boundary
  finally:
    stop(p, signal.SIGINT, 20)


def test_qcam_serves_the_small_stream(recorded, conduit_prefix, tool):
  r = json.loads(tool('route_info', '--json', recorded).stdout)
  q = r['segments'][0]['videos']['qcamera.ts']
  in_seg0 = [i for i in _encode_indexes(recorded, 'qRoadEncodeIdx') if i.segmentNum == 0]
  assert q['frames'] == q['indexed'] == len(in_seg0) > 0
  p = subprocess.Popen([os.path.join(BIN, 'replay'), '--qcam', '--loop', recorded],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    client = _connected_client(p)
    ids = []
    while len(ids) < 10:
      buf = client.recv(2000)
      assert buf is not None
      assert (buf.width, buf.height) == (q['width'], q['height'])
      ids.append(client.frame_id)
    assert all(b > a or b < a - 5 for a, b in zip(ids, ids[1:])), ids  # forward, or a loop restart
  finally:
    stop(p, signal.SIGINT, 20)
