"""The modeld process: VisionIPC frames in, modelV2 out. A Python VisionIPC
server stands in for camerad (frames in lockstep, so every frame id is known);
a second test runs the real synthetic camerad when it is built."""
import os
import subprocess
import time

import numpy as np
import pytest

from common.testing.process import stop
from common.testing.wait import wait_for
from modeld.tests.helpers import ROOT, synthetic_nv12

MODELD = os.path.join(ROOT, 'build', 'bin', 'modeld')
CAMERAD = os.path.join(ROOT, 'build', 'bin', 'camerad')
W, H = 640, 480


@pytest.fixture
def bus():
  messaging = pytest.importorskip('cereal.messaging', reason='cereal Python bindings not built')
  visionipc = pytest.importorskip('visionipc', reason='visionipc Python bindings not built')
  return messaging, visionipc


class Modeld:
  def __init__(self, *args):
    self.proc = subprocess.Popen([MODELD, *args], stderr=subprocess.PIPE, text=True)

  def stop(self):
    return stop(self.proc), self.proc.stderr.read()


def camera(visionipc, buffers=4):
  """camerad's stand-in: a VisionIPC server 'camerad' of the road stream at W x H."""
  server = visionipc.VisionIpcServer('camerad')
  server.create_buffers(visionipc.VISION_STREAM_ROAD, buffers, W, H)
  server.start_listener()
  return server


def stripes_top_flat_bottom():
  """Vertical stripes in the upper half of the frame, flat grey below."""
  buf = np.full(W * H * 3 // 2, 128, np.uint8)
  luma = buf[:W * H].reshape(H, W)
  luma[:H // 2] = np.where((np.arange(W) // 8) % 2, 230, 20)
  return buf


def test_publishes_model_v2_for_every_frame(bus):
  messaging, visionipc = bus
  server = camera(visionipc)
  pm = messaging.PubMaster(['roadCameraState'])
  sock = messaging.sub_sock('modelV2', timeout=20000)
  state = messaging.SubMaster(['modeldState'])
  modeld = Modeld('--server', 'camerad')
  try:
    assert wait_for(lambda: server.num_clients(visionipc.VISION_STREAM_ROAD) >= 1, 30), 'modeld did not connect'
    still = synthetic_nv12(W, H, seed=1)[0]
    cut = 255 - synthetic_nv12(W, H, seed=2)[0]
    got = []
    for fid in range(1, 7):
      frame = cut if fid == 6 else still
      cs = messaging.new_message('roadCameraState')
      cs.roadCameraState.frameId = fid
      pm.send('roadCameraState', cs)
      assert server.send(visionipc.VISION_STREAM_ROAD, frame, frame_id=fid, timestamp_sof=1000 + fid,
                         timestamp_eof=5000 + fid)
      msg = messaging.recv_one(sock)
      assert msg is not None, f'no modelV2 for frame {fid}'
      got.append(msg.modelV2)
  finally:
    rc, err = modeld.stop()
  assert rc == 0, err
  assert [m.frameId for m in got] == [1, 2, 3, 4, 5, 6]
  for fid, m in enumerate(got, 1):
    assert m.timestampEof == 5000 + fid
    assert m.frameAge == 0
    assert m.frameDropPerc == 0
    assert m.backend in ('opencl', 'cuda', 'cpu')
    assert 0 < m.modelExecutionTime < 5 and 0 < m.transformTime <= m.modelExecutionTime
    assert len(m.rowEdges) == 64
    assert list(m.inputShape) == [1, 12, 64, 128]
    raw = np.frombuffer(m.rawPredictions, '<f4')
    assert raw.size == 64 + 1 + 8 and np.allclose(raw[:64], list(m.rowEdges)) and raw[64] == pytest.approx(m.sceneChange)
  assert max(m.sceneChange for m in got[1:5]) < 0.05   # a still scene
  assert got[5].sceneChange > 0.9                      # the cut
  for _ in range(5):
    state.update(0)
  st = state['modeldState']  # the last one, published on the way out
  assert (st.stream.name, st.stream.frames, st.stream.dropped, st.backend) == ('road', 6, 0, got[0].backend)


def test_follows_live_calibration(bus):
  messaging, visionipc = bus
  server = camera(visionipc)
  pm = messaging.PubMaster(['liveCalibration'])
  sock = messaging.sub_sock('modelV2', timeout=20000)
  modeld = Modeld()
  frame = stripes_top_flat_bottom()
  try:
    assert wait_for(lambda: server.num_clients(visionipc.VISION_STREAM_ROAD) >= 1, 30), 'modeld did not connect'
    server.send(visionipc.VISION_STREAM_ROAD, frame, frame_id=1)
    default_view = messaging.recv_one(sock).modelV2
    # Look at the lower half only: model frame 256x128 onto rows 260..460 of the camera frame.
    cal = messaging.new_message('liveCalibration')
    cal.liveCalibration.warpMatrix = [W / 256, 0, 0, 0, 200 / 128, 260, 0, 0, 1]
    cal.liveCalibration.valid = True
    # Ordered without a wait: modeld subscribed before it connected, the bus
    # holds the message once send() returns, and modeld reads liveCalibration
    # after it takes a frame.
    pm.send('liveCalibration', cal)
    server.send(visionipc.VISION_STREAM_ROAD, frame, frame_id=2)
    calibrated = messaging.recv_one(sock).modelV2
  finally:
    rc, err = modeld.stop()
  assert rc == 0, err
  rows = np.array(default_view.rowEdges)
  assert rows[:30].min() > 0.3 and rows[34:].max() < 1e-6
  assert calibrated.frameId == 2 and max(calibrated.rowEdges) < 1e-6


def test_conflates_to_the_newest_frame_and_reports_drops(bus):
  messaging, visionipc = bus
  server = camera(visionipc, 8)
  sock = messaging.sub_sock('modelV2', timeout=20000)
  modeld = Modeld('--backend', 'cpu')
  frame = synthetic_nv12(W, H, seed=3)[0]
  got = []
  try:
    assert wait_for(lambda: server.num_clients(visionipc.VISION_STREAM_ROAD) >= 1, 30), 'modeld did not connect'
    for fid in range(1, 61):
      server.send(visionipc.VISION_STREAM_ROAD, frame, frame_id=fid)
      time.sleep(0.002)
    while not got or got[-1].frameId != 60:
      msg = messaging.recv_one(sock)
      assert msg is not None, f'no modelV2 for the newest frame; last {got[-1].frameId if got else None}'
      got.append(msg.modelV2)
  finally:
    rc, err = modeld.stop()
  assert rc == 0, err
  ids = [m.frameId for m in got]
  assert ids == sorted(set(ids)), ids
  for prev, m in zip(got, got[1:]):
    if m.frameId > prev.frameId + 1:
      assert m.frameDropPerc > 0


def start_on_conv_model(tmp_path, weight_shape):
  """modeld run on a one-Conv model with weights of `weight_shape`: (exit code, stderr)."""
  from modeld.tests.test_model import conv_model
  path = tmp_path / 'conv.cmodel'
  path.write_bytes(conv_model(weight_shape))
  r = subprocess.run([MODELD, '--model', str(path)], capture_output=True, text=True, timeout=60)
  return r.returncode, r.stderr


def test_bad_model_exits_non_zero_at_start_naming_the_node(tmp_path):
  rc, err = start_on_conv_model(tmp_path, (4, 5, 3, 3))
  assert rc == 1
  assert "node 'conv_a' (Conv): weight 'w' [4, 5, 3, 3] expects 5 input channels" in err


def test_model_modeld_cannot_feed_exits_non_zero(tmp_path):
  rc, err = start_on_conv_model(tmp_path, (4, 3, 3, 3))
  assert rc == 1
  assert "model input 'x' has shape [1, 3, 8, 8], expected [1, 6, H, W]" in err


def test_bad_usage_exits_2():
  r = subprocess.run([MODELD, '--backend', 'tpu'], capture_output=True, text=True, timeout=60)
  assert r.returncode == 2 and "unknown backend 'tpu'" in r.stderr
  r = subprocess.run([MODELD, '--frames', 'ten'], capture_output=True, text=True, timeout=60)
  assert r.returncode == 2 and '--frames expects a number' in r.stderr


@pytest.mark.skipif(not os.path.exists(CAMERAD), reason='camerad is not built in this tree')
def test_with_synthetic_camerad(bus):
  messaging, _ = bus
  sock = messaging.sub_sock('modelV2', timeout=30000)
  camerad = subprocess.Popen([CAMERAD, '--source', 'synthetic', '--cameras', 'road', '--fps', '20'],
                             stderr=subprocess.DEVNULL)
  modeld = Modeld()
  got = []
  try:
    while len(got) < 10:
      msg = messaging.recv_one(sock)
      assert msg is not None, 'no modelV2 from camerad frames'
      got.append(msg.modelV2)
  finally:
    rc, err = modeld.stop()
    stop(camerad)
  assert rc == 0, err
  ids = [m.frameId for m in got]
  assert ids == sorted(set(ids)), ids
  assert ids[-1] - ids[0] < 3 * len(ids), f'too many frames skipped: {ids}'
