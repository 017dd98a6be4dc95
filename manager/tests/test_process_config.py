import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from manager.params import Params  # noqa: E402
from manager.process_config import PROCESSES, default_encoded_cameras  # noqa: E402


def test_two_cores_encode_only_the_road_camera_at_full_size():
  assert default_encoded_cameras(['road', 'wide'], '1928x1208', 20, cpus=2) == ['road']
  assert default_encoded_cameras(['wide', 'road'], '1928x1208', 20, cpus=2) == ['road']


def test_more_cores_or_smaller_frames_encode_more_cameras():
  assert default_encoded_cameras(['road', 'wide'], '1928x1208', 20, cpus=4) == ['road', 'wide']
  assert default_encoded_cameras(['road', 'wide'], '964x604', 20, cpus=2) == ['road', 'wide']
  assert default_encoded_cameras(['road', 'wide', 'driver'], '1928x1208', 20, cpus=4) == ['road', 'wide']
  assert default_encoded_cameras(['road', 'wide', 'driver'], '1928x1208', 20, cpus=8) == ['road', 'wide', 'driver']


def test_at_least_one_camera_is_encoded():
  assert default_encoded_cameras(['wide', 'driver'], '1928x1208', 20, cpus=1) == ['wide']


def test_camerad_serves_i420_by_default_so_libx265_needs_no_copy(tmp_path):
  params = Params(str(tmp_path))
  camerad = next(p for p in PROCESSES if p.name == 'camerad')
  argv = camerad.command(params)
  assert argv[argv.index('--pixel-format') + 1] == 'yuv420p'
  params.put('CameraPixelFormat', 'nv12')
  argv = camerad.command(params)
  assert argv[argv.index('--pixel-format') + 1] == 'nv12'


def test_encoded_cameras_param_overrides_the_default(tmp_path):
  params = Params(str(tmp_path))
  encoderd = next(p for p in PROCESSES if p.name == 'encoderd')
  params.put('EncodedCameras', ['road', 'wide'])
  argv = encoderd.command(params)
  assert argv[argv.index('--cameras') + 1] == 'road,wide'


def test_loggerd_sqpoll_param_selects_the_sqpoll_ring(tmp_path):
  params = Params(str(tmp_path))
  loggerd = next(p for p in PROCESSES if p.name == 'loggerd')
  assert loggerd.command(params)[1:] == []
  params.put('LoggerdSqpoll', True)
  params.put('LoggerdSqpollIdleMs', 50)
  assert loggerd.command(params)[1:] == ['--io', 'io_uring_sqpoll', '--sqpoll-idle-ms', '50']


def test_bridge_runs_only_when_configured(tmp_path):
  params = Params(str(tmp_path))
  bridge = next(p for p in PROCESSES if p.name == 'bridge')
  assert not bridge.enabled(params)
  params.put('BridgePublish', 'all')
  assert bridge.enabled(params)
  assert bridge.command(params)[1:] == ['--publish', 'all', '--bind', '127.0.0.1']
  params.put('BridgeFrom', '192.0.2.1')
  params.put('BridgeSubscribe', 'can')
  assert bridge.command(params)[1:] == ['--publish', 'all', '--bind', '127.0.0.1', '--from', '192.0.2.1',
                                        '--subscribe', 'can']
  assert os.path.isabs(bridge.command(params)[0]) and bridge.command(params)[0].endswith('build/bin/bridge')
