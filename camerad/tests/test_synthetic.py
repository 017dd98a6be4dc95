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


def test_frames_served_by_camerad_match_the_scene(monkeypatch):
  visionipc = pytest.importorskip('visionipc')
  prefix = f'campy{os.getpid()}'
  monkeypatch.setenv('CONDUIT_PREFIX', prefix)
  proc = subprocess.Popen([os.path.join(ROOT, 'build', 'bin', 'camerad'), '--cameras', 'road', '--size', '320x192'],
                          stderr=subprocess.DEVNULL)
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
      y = np.asarray(buf.y)[:192, :320]
      assert read_stamp(np.ascontiguousarray(y)) == (client.frame_id, 'road')
      assert np.array_equal(y, render('road', client.frame_id, 320, 192)[:192])
      checked += 1
    assert checked == 3
  finally:
    proc.terminate()
    assert proc.wait(20) == 0
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)
