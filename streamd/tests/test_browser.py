"""The page in a real browser (headless Chromium over the DevTools protocol).

A pipeline runs under the manager with streamd switched on (camerad synthetic
road 482x302, encoderd, loggerd, streamd; no model, to spare the cores): the
live page plays its qcamera and shows the processes running. Then, on the
route that pipeline recorded, the route page plays the remuxed MP4 (time
advances, frames are drawn), seeks, and plots a signal under the video's
cursor. Screenshots go to the test's temp dir."""
import glob
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from streamd.tests.browser import Browser  # noqa: E402
from common.testing.process import stop  # noqa: E402
from common.testing.wait import wait_for  # noqa: E402
from streamd.tests.http_client import answers, get  # noqa: E402

PYTHON = '/usr/bin/python3'

# Standard deviation of the luma-ish channel of the frame a <video> shows now (0 for a blank frame).
FRAME_SPREAD = """(() => {
  const v = document.getElementById('%s'), c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  if (!c.width) return 0;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let s = 0, s2 = 0, n = 0;
  for (let i = 0; i < d.length; i += 40) { s += d[i + 1]; s2 += d[i + 1] * d[i + 1]; n++; }
  return Math.sqrt(s2 / n - (s / n) ** 2);
})()"""


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
  """The manager running the pipeline with streamd; yields (port, log root, shots dir), stops it after the live test."""
  tmp = tmp_path_factory.mktemp('streamd_browser')
  prefix = f'streamdtest{os.getpid()}'
  env = dict(os.environ, CONDUIT_PREFIX=prefix, CONDUIT_LOG_ROOT=str(tmp / 'routes'),
             CONDUIT_PARAMS_DIR=str(tmp / 'params'), PYTHONPATH=ROOT)
  from manager.params import Params
  os.makedirs(env['CONDUIT_PARAMS_DIR'], mode=0o700)
  params = Params(env['CONDUIT_PARAMS_DIR'])
  port = free_port()
  for k, v in (('SegmentSeconds', 3), ('FrameSize', '482x302'), ('EnabledCameras', ['road']), ('ModelEnabled', False),
               ('LogRoot', env['CONDUIT_LOG_ROOT']), ('ServeEnabled', True), ('ServePort', port)):
    params.put(k, v)
  mgr = subprocess.Popen([PYTHON, '-m', 'manager.manager'], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
  try:
    yield dict(port=port, root=str(tmp / 'routes'), tmp=tmp, mgr=mgr)
  finally:
    stop(mgr, timeout=30)
    subprocess.run(['rm', '-rf', f'/dev/shm/conduit_{prefix}'])


def test_live_page_plays_the_running_pipeline(pipeline):
  port = pipeline['port']
  assert wait_for(lambda: answers(port, '/live/video'), 30, 0.2), '/live/video never answered 200'
  with Browser() as b:
    b.goto(f'http://127.0.0.1:{port}/#/live')
    b.wait('window.streamd && window.streamd.liveFrames > 10', 30, 'frames presented by the live video')
    t1 = b.eval("document.getElementById('live').currentTime")
    b.wait(f"document.getElementById('live').currentTime > {t1}", 10, f'live video playing on from currentTime {t1}')
    assert b.eval(FRAME_SPREAD % 'live') > 5, 'the live frame is blank'
    procs = b.wait("window.streamd.processes.camerad && window.streamd.processes", 15, 'process status from managerState')
    assert procs == {'camerad': True, 'encoderd': True, 'loggerd': True, 'streamd': True}
    assert b.eval("document.getElementById('live-state').textContent") == 'playing'
    b.screenshot(str(pipeline['tmp'] / 'live.png'))
  # two whole segments for the route test (the third has begun), then stop the pipeline
  assert wait_for(lambda: glob.glob(os.path.join(pipeline['root'], '*--2')), 60), 'fewer than three segments'
  pipeline['mgr'].send_signal(signal.SIGTERM)
  assert pipeline['mgr'].wait(30) == 0


def qcamera_frames(segment_dirs):
  from loggerd.logreader import LogReader
  return sum(1 for d in segment_dirs for ev in LogReader(d) if ev.which() == 'qRoadEncodeIdx')


def test_route_page_plays_seeks_and_plots(pipeline, streamd, tmp_path):
  root = pipeline['root']
  assert pipeline['mgr'].poll() is not None, 'the live test did not stop the pipeline'
  route = max(d for d in os.listdir(root) if d.endswith('--0'))[:-3]
  segments = sorted(os.path.join(root, d) for d in os.listdir(root) if d.startswith(route + '--'))
  assert len(segments) >= 2
  frames = qcamera_frames(segments)
  s = streamd('--no-live', '--log-root', root, '--cache-dir', tmp_path / 'cache')

  # the remux: every recorded qcamera frame, served byte-exact from the cache, made once
  video = get(s.port, f'/routes/{route}/video.mp4')
  assert video.status == 200 and video.headers['content-type'] == 'video/mp4'
  (tmp_path / 'got.mp4').write_bytes(video.body)
  info = json.loads(subprocess.run([os.path.join(ROOT, 'build', 'bin', 'video_info'), str(tmp_path / 'got.mp4')],
                                   capture_output=True, text=True, check=True).stdout)
  assert info['frames'] == frames and (info['width'], info['height']) == (526, 330)
  cached = os.listdir(tmp_path / 'cache')
  assert len(cached) == 1 and (tmp_path / 'cache' / cached[0]).read_bytes() == video.body
  part = get(s.port, f'/routes/{route}/video.mp4', {'Range': 'bytes=100-4099'})
  assert part.status == 206 and part.body == video.body[100:4100]
  assert os.listdir(tmp_path / 'cache') == cached

  with Browser() as b:
    b.goto(f'http://127.0.0.1:{s.port}/#/route/{route}')
    duration = b.wait("document.getElementById('video').readyState >= 2 && document.getElementById('video').duration",
                      30, 'the route video loads')
    assert duration == pytest.approx(frames / 20, abs=1.0)
    b.eval("document.getElementById('video').play()")
    b.wait("document.getElementById('video').currentTime > 0.5", 20, 'currentTime advances')
    assert b.eval('window.streamd.frames') > 5
    assert b.eval(FRAME_SPREAD % 'video') > 5, 'the drawn frame is blank'
    first = b.eval("document.getElementById('video').currentTime")
    b.eval("document.getElementById('video').pause()")
    target = round(duration * 0.7, 2)
    b.eval(f"new Promise(ok => {{ const v = document.getElementById('video'); "
           f"v.addEventListener('seeked', () => ok(true), {{once: true}}); v.currentTime = {target}; }})")
    assert b.eval("document.getElementById('video').currentTime") == pytest.approx(target, abs=0.1)
    assert target > first
    # the plot shows every qcamera packet size, and its cursor follows the video
    points = b.wait("window.streamd.plots['qRoadEncodeIdx.len']", 10, 'the plot of qRoadEncodeIdx.len')
    assert points == frames
    b.wait(f"Math.abs(window.streamd.cursor - {target}) < 0.05", 5, 'the plot cursor at the seek target')
    drawn = b.eval("""(() => {
      const c = document.querySelector('canvas[data-signal="qRoadEncodeIdx.len"]');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 120 && d[i + 2] > d[i] + 60) n++;  // the blue line
      return n; })()""")
    assert drawn > 100, f'the plot line has {drawn} pixels'
    b.screenshot(str(pipeline['tmp'] / 'route.png'))
  print(f"screenshots: {pipeline['tmp']}/live.png, route.png")
