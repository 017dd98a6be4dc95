"""./launch: the default pipeline under the manager, with a live status line and
a summary of the route at the end."""
import argparse
import os
import subprocess
import sys

from common.prefix import log_root
from manager.manager import Manager
from manager.params import Params
from manager.process_config import PROCESSES, encoded_cameras
from manager.status import StatusLine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAMERA_TOPICS = {'road': 'roadCameraState', 'wide': 'wideRoadCameraState', 'driver': 'driverCameraState'}


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
  route_dir = params.get('LogRoot')  # the manager's clean exit removes the params with the rest of the prefix
  status = StatusLine()
  rc = Manager(PROCESSES, params, on_tick=status).run(args.duration)
  print()
  if status.summary:
    print(status.summary)
  if status.route:
    print(f'route {status.route} in {route_dir}')
    subprocess.run([os.path.join(ROOT, 'tools', 'route_info'), os.path.join(route_dir, status.route)])
  else:
    print('no route was recorded (loggerd never reported one)')
  return rc


if __name__ == '__main__':
  sys.exit(main())
