"""Python from anywhere: a script outside the repository imports conduit's
packages through build/bin/conduit-python and through the editable install the
README names; help() shows real docstrings; VisionBuf to RGB; tools/frame."""
import os
import pydoc
import subprocess

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

SCRIPT = '''
import os, sys
import cereal.messaging as messaging
from loggerd.logreader import LogReader
from visionipc import to_rgb
msg = messaging.new_message('can', 1)
msg.can[0].address = 0x123
print(messaging.log_from_bytes(msg.to_bytes()).can[0].address, os.getcwd())
'''


def test_a_script_outside_the_repo_imports_conduit_through_conduit_python(tmp_path):
  script = tmp_path / 'mine.py'
  script.write_text(SCRIPT)
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  out = subprocess.run([os.path.join(ROOT, 'build', 'bin', 'conduit-python'), str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
  assert out.returncode == 0, out.stderr
  assert out.stdout.split() == ['291', str(tmp_path)]
  line = subprocess.run([os.path.join(ROOT, 'build', 'bin', 'conduit-python'), '--env'], capture_output=True, text=True,
                        check=True).stdout
  assert line.startswith(f'export PYTHONPATH="{ROOT}')


def test_a_script_outside_the_repo_imports_conduit_after_the_editable_install(tmp_path):
  """The README's one-liner, into a venv over Debian's packages (not the user's site)."""
  venv = tmp_path / 'venv'
  subprocess.run(['/usr/bin/python3', '-m', 'venv', '--without-pip', '--system-site-packages', str(venv)], check=True)
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  pip = subprocess.run(['/usr/bin/python3', '-m', 'pip', '--python', str(venv / 'bin' / 'python'), 'install',
                        '--no-build-isolation', '--no-deps', '--no-index', '-e', ROOT], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
  assert pip.returncode == 0, pip.stdout + pip.stderr
  (tmp_path / 'mine.py').write_text(SCRIPT)
  out = subprocess.run([str(venv / 'bin' / 'python'), 'mine.py'], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
  assert out.returncode == 0, out.stderr
  assert out.stdout.split()[0] == '291'


def test_help_shows_real_docstrings():
  from cereal.messaging import SubMaster
  from loggerd.logreader import LogReader
  lr = pydoc.render_doc(LogReader, renderer=pydoc.plaintext)
  assert 'for ev in LogReader("myroute/2:5", only=["can"])' in lr and 'bad_events' in lr and 'strict' in lr
  sm = pydoc.render_doc(SubMaster, renderer=pydoc.plaintext)
  assert 'sm.update(100)' in sm and 'update(self, timeout=100, now_ns=None)' in sm and 'all_alive' in sm
  assert 'Initialize self' not in lr


def test_visionbuf_to_rgb_for_nv12_and_i420(conduit_prefix):
  from visionipc import VISION_STREAM_ROAD, VISION_STREAM_WIDE_ROAD, VisionIpcClient, VisionIpcServer, to_rgb
  w, h = 64, 32
  y = np.full((h, w), 235, np.uint8)   # white
  y[:, w // 2:] = 16                   # black
  u = np.full((h // 2, w // 2), 128, np.uint8)
  v = u.copy()
  y[:2, :2], u[0, 0], v[0, 0] = 81, 90, 240  # BT.601 red
  server = VisionIpcServer('camerad')
  server.create_buffers(VISION_STREAM_ROAD, 2, w, h, 'nv12')
  server.create_buffers(VISION_STREAM_WIDE_ROAD, 2, w, h, 'yuv420p')
  server.start_listener()
  nv12 = np.concatenate([y.ravel(), np.stack([u, v], axis=-1).ravel()])
  i420 = np.concatenate([y.ravel(), u.ravel(), v.ravel()])
  got = []
  for stream, data in ((VISION_STREAM_ROAD, nv12), (VISION_STREAM_WIDE_ROAD, i420)):
    client = VisionIpcClient('camerad', stream, False)
    assert client.connect(True)
    server.send(stream, data, 1, 0, 0, True)
    buf = client.recv(5000)
    assert buf is not None
    got.append(to_rgb(buf))
    del client
  for rgb in got:
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
    assert (rgb[:, 2:w // 2] == 255).all() and (rgb[:, w // 2:] == 0).all()
    assert abs(rgb[0, 0].astype(int) - [255, 0, 0]).max() <= 2, rgb[0, 0]
  assert (got[0] == got[1]).all()
  del server


def test_frame_saves_the_frame_recorded_at_a_time(route, tool, tmp_path):
  from PIL import Image

  from camerad import render
  from visionipc import yuv_to_rgb
  root, path = route
  out = tmp_path / 'f.png'
  text = tool('frame', '--log-root', root, 'fixture', '--at', '1.0', '-o', out).stdout
  frame_id = int(text.split()[1])
  # The fixture's frame f is at f / 20 s (+1 ms); the route starts with the first segment's first event.
  assert 19 <= frame_id <= 21, text
  png = np.asarray(Image.open(out).convert('RGB')).astype(np.float64)
  assert png.shape == (240, 320, 3)
  i420 = render('road', frame_id, 320, 240, 'yuv420p')
  y, u, v = i420[:240], i420[240:300].reshape(120, 160), i420[300:].reshape(120, 160)
  expected = yuv_to_rgb(y, u, v).astype(np.float64)
  psnr = 10 * np.log10(255 ** 2 / np.mean((png - expected) ** 2))
  assert psnr > 30, psnr  # the H.265 fixture at crf 18: the same picture, not a neighbour
  later = render('road', frame_id + 20, 320, 240, 'yuv420p')
  other = yuv_to_rgb(later[:240], later[240:300].reshape(120, 160), later[300:].reshape(120, 160)).astype(np.float64)
  assert 10 * np.log10(255 ** 2 / np.mean((png - other) ** 2)) < psnr
  p = tool('frame', '--log-root', root, 'fixture', '--at', '1', '--camera', 'rear', check=False)
  assert p.returncode == 2 and 'unknown camera rear' in p.stderr
