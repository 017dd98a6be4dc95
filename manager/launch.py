"""./launch: the default pipeline under the manager, with a live status line and
a summary of the route at the end."""
import argparse
import os
import subprocess
import sys
import time

from common.prefix import log_root
from manager.manager import Manager
from manager.params import Params
from manager.process_config import PROCESSES, encoded_cameras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAMERA_TOPICS = {'road': 'roadCameraState', 'wide': 'wideRoadCameraState', 'driver': 'driverCameraState'}


class StatusLine:
  """Reads the bus once per manager tick and redraws one terminal line."""

  def __init__(self, cameras):
    import cereal.messaging as messaging
    self.cameras = cameras
    self.sm = messaging.SubMaster([CAMERA_TOPICS[c] for c in cameras] + ['modelV2', 'loggerdState', 'encoderdState'])
    self.frames = {c: [] for c in cameras}
    self.route = None
    self.last_draw = 0.0
    self.tty = sys.stdout.isatty()

  def __call__(self, mgr):
    self.sm.update(0)
    now = time.monotonic()
    for c in self.cameras:
      if self.sm.updated[CAMERA_TOPICS[c]]:
        self.frames[c].append(now)
      self.frames[c] = [t for t in self.frames[c] if now - t < 2.0]
    if self.sm.valid['loggerdState'] and self.sm['loggerdState'].route:
      self.route = self.sm['loggerdState'].route
    if now - self.last_draw < 1.0:
      return
    self.last_draw = now
    up = sum(p.running() for p in mgr.procs)
    fps = ' '.join(f'{c} {len(v) / 2.0:4.1f}fps' for c, v in self.frames.items())
    model = self.sm['modelV2']
    drops = sum(getattr(self.sm[CAMERA_TOPICS[c]], 'droppedFrames', 0) for c in self.cameras)
    seg = self.sm['loggerdState'].segmentNum if self.sm.recv_frame['loggerdState'] else '-'
    line = (f'procs {up}/{len(mgr.procs)} | {fps} | model {model.modelExecutionTime * 1000:5.1f}ms '
            f'drop {model.frameDropPerc:4.1f}% | camera drops {drops} | segment {seg}')
    print(('\r' + line + '\x1b[K') if self.tty else line, end='' if self.tty else '\n', flush=True)


def main(argv=None):
  ap = argparse.ArgumentParser(prog='./launch', description='Run the conduit pipeline: camerad (synthetic road + wide), '
                               'modeld, encoderd and loggerd, until Ctrl-C or --duration.')
  ap.add_argument('--duration', type=float, help='run this many seconds, then stop cleanly')
  ap.add_argument('--camera', default='synthetic', help='camera source: synthetic (default), file:PATH, v4l2[:DEVICE]')
  ap.add_argument('--cameras', default='road,wide', help='streams to serve (default road,wide)')
  ap.add_argument('--pixel-format', default='yuv420p', choices=['yuv420p', 'nv12'],
                  help='camera buffer layout (default yuv420p: libx265 encodes it without a copy)')
  ap.add_argument('--no-model', action='store_true', help='do not run modeld')
  ap.add_argument('--segment-seconds', type=int, default=60, help='segment length (default 60)')
  ap.add_argument('--prefix', help='CONDUIT_PREFIX: isolate this pipeline from others on the machine')
  ap.add_argument('--serve', nargs='?', const=8088, type=int, metavar='PORT',
                  help='also run streamd: watch the routes and the live camera at http://127.0.0.1:PORT/ (default 8088)')
  ap.add_argument('--log-root', help='where routes go (default $CONDUIT_LOG_ROOT or ./data/routes)')
  args = ap.parse_args(argv)
  if args.prefix:
    os.environ['CONDUIT_PREFIX'] = args.prefix
  if args.log_root:
    os.environ['CONDUIT_LOG_ROOT'] = os.path.abspath(args.log_root)
  cameras = [c for c in args.cameras.split(',') if c]
  unknown = [c for c in cameras if c not in CAMERA_TOPICS]
  if unknown:
    ap.error(f'unknown camera stream(s) {unknown}; known: {", ".join(CAMERA_TOPICS)}')

  params = Params()
  params.put('CameraSource', args.camera)
  params.put('EnabledCameras', cameras)
  params.put('CameraPixelFormat', args.pixel_format)
  params.put('ModelEnabled', not args.no_model)
  params.put('SegmentSeconds', args.segment_seconds)
  params.put('LogRoot', os.environ.get('CONDUIT_LOG_ROOT', log_root()))
  params.put('ServeEnabled', args.serve is not None)
  if args.serve is not None:
    params.put('ServePort', args.serve)
    print(f'streamd: open http://127.0.0.1:{args.serve}/ in a browser')

  encoded = encoded_cameras(params)
  if encoded != cameras:
    print(f'encoding {",".join(encoded)} to H.265 (not {",".join(c for c in cameras if c not in encoded)}: '
          f'{len(os.sched_getaffinity(0))} cores are too few; Params EncodedCameras overrides)')
  status = StatusLine(cameras)
  rc = Manager(PROCESSES, params, on_tick=status).run(args.duration)
  print()
  if status.route:
    route_dir = params.get('LogRoot')
    print(f'route {status.route} in {route_dir}')
    subprocess.run([os.path.join(ROOT, 'tools', 'route_info'), os.path.join(route_dir, status.route)])
  else:
    print('no route was recorded (loggerd never reported one)')
  return rc


if __name__ == '__main__':
  sys.exit(main())
