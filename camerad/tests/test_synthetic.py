"""The synthetic scene from Python equals what camerad serves over VisionIPC."""
import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from camerad import read_stamp, render

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def test_render_is_deterministic_and_stamped():
  a = render('wide', 42, 640, 384)
  assert a.shape == (576, 640) and a.dtype == np.uint8
  assert np.array_equal(a, render('wide', 42, 640, 384))
  assert not np.array_equal(a, render('wide', 43, 640, 384))
  assert read_stamp(a[:384]) == (42, 'wide')
  assert read_stamp(np.full((64, 640), 128, np.uint8)) is None
  with pytest.raises(ValueError, match="unknown camera 'rear'"):
    render('rear', 0)


def planes(compact, width, height, pixel_format):
  """(y, u, v) of a compact frame as render() returns it."""
  flat = compact.ravel()
  y = flat[:width * height].reshape(height, width)
  if pixel_format == 'nv12':
    uv = flat[width * height:].reshape(height // 2, width)
    return y, uv[:, 0::2], uv[:, 1::2]
  q = width * height // 4
  u = flat[width * height:width * height + q].reshape(height // 2, width // 2)
  return y, u, flat[width * height + q:].reshape(height // 2, width // 2)


def test_i420_render_holds_the_same_samples():
  nv12 = planes(render('road', 7, 640, 384), 640, 384, 'nv12')
  i420 = planes(render('road', 7, 640, 384, 'yuv420p'), 640, 384, 'yuv420p')
  for a, b in zip(nv12, i420):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match='expected nv12 or yuv420p'):
    render('road', 0, 640, 384, 'rgb24')


@pytest.mark.parametrize('pixel_format', ['nv12', 'yuv420p'])
def test_frames_served_by_camerad_match_the_scene(monkeypatch, pixel_format):
  visionipc = pytest.importorskip('visionipc')
  prefix = f'campy{os.getpid()}'
  monkeypatch.setenv('CONDUIT_PREFIX', prefix)
  proc = subprocess.Popen([os.path.join(ROOT, 'build', 'bin', 'camerad'), '--cameras', 'road', '--size', '320x192',
                           '--pixel-format', pixel_format], stderr=subprocess.DEVNULL)
  try:
    client = visionipc.VisionIpcClient('camerad', visionipc.VISION_STREAM_ROAD, False)
    deadline = time.monotonic() + 30
    while not client.connect(False):
      assert time.monotonic() < deadline, 'camerad did not come up'
      time.sleep(0.05)
    checked = 0
    while checked < 3 and time.monotonic() < deadline:
      buf = client.recv(100)
      if buf is None:
        continue
      assert buf.pixel_format == pixel_format
      y = np.asarray(buf.y)
      assert read_stamp(np.ascontiguousarray(y)) == (client.frame_id, 'road')
      want = planes(render('road', client.frame_id, 320, 192, pixel_format), 320, 192, pixel_format)
      for got, expected in zip((buf.y, buf.u, buf.v), want):
        np.testing.assert_array_equal(got, expected)
      checked += 1
    assert checked == 3
  finally:
    proc.terminate()
    assert proc.wait(20) == 0
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)
