"""Params: the pipeline's small typed key/value store.

Each key is a file in the params dir ($CONDUIT_PARAMS_DIR, else <shm_dir>/params,
so CONDUIT_PREFIX isolates it). Writes are atomic (temp file, fsync, rename):
a reader sees the old value or the new one, never half. Keys are declared in
KEYS with a type and a default; an unknown key or a value of the wrong type is
a ValueError/TypeError naming the key. Safe across processes and threads.
"""
import json
import os
import tempfile

from common.prefix import check_name, shm_dir

# key: (type, default, what it configures)
KEYS = {
  'SegmentSeconds': (int, 60, 'length of a route segment (encoderd, loggerd)'),
  'CameraSource': (str, 'synthetic', "camerad source: synthetic, file:PATH or v4l2[:DEVICE]"),
  'EnabledCameras': (list, ['road', 'wide'], 'camera streams camerad serves'),
  'CameraPixelFormat': (str, 'yuv420p', 'layout of camerad\'s frame buffers: yuv420p (I420, what libx265 encodes '
                        'without a copy) or nv12 (see manager/process_config.py)'),
  'EncodedCameras': (list, [], 'camera streams encoderd encodes to H.265 (empty: every enabled one where the cores '
                     'allow, else road only; see process_config.default_encoded_cameras)'),
  'ModelBackend': (str, 'auto', 'modeld backend: auto, opencl, cuda or cpu'),
  'ModelEnabled': (bool, True, 'run modeld'),
  'Fps': (int, 20, 'camera frame rate'),
  'FrameSize': (str, '1928x1208', 'camera frame size WxH'),
  'LogRoot': (str, '', 'where loggerd writes routes (empty: $CONDUIT_LOG_ROOT or ./data/routes)'),
  'DeleterFreePercent': (float, 10.0, 'loggerd deletes old segments below this free space'),
  'LoggerdSqpoll': (bool, False, 'loggerd submits through an IORING_SETUP_SQPOLL ring (a kernel thread polls it: '
                    'no syscall per submission, CPU of its own; see loggerd/README.md)'),
  'LoggerdSqpollIdleMs': (int, 1000, 'how long loggerd\'s SQPOLL thread polls without submissions before it sleeps'),
  'ServeEnabled': (bool, False, 'run streamd, the web server for routes and the live camera (./launch --serve)'),
  'ServePort': (int, 8088, 'streamd\'s TCP port on 127.0.0.1'),
  'BridgePublish': (str, '', 'services the bridge serves to other hosts: a comma-separated list or "all" '
                    '(empty, and BridgeFrom empty: no bridge)'),
  'BridgeBind': (str, '127.0.0.1', 'address the bridge serves on (another host needs a non-loopback one)'),
  'BridgeFrom': (str, '', 'host whose bridge to take BridgeSubscribe from (empty: none)'),
  'BridgeSubscribe': (str, 'all', 'services the bridge takes from BridgeFrom'),
  'ExampleEnabled': (bool, False, 'run examples/sensor_filter, the worked example of a process of your own'),
  'SensorFilterAlpha': (float, 0.1, 'examples/sensor_filter: weight of a new reading in the low-pass filter'),
}


def params_dir() -> str:
  d = os.environ.get('CONDUIT_PARAMS_DIR') or os.path.join(shm_dir(), 'params')
  os.makedirs(d, mode=0o700, exist_ok=True)
  return d


def _encode(key, typ, value) -> bytes:
  if typ is float and isinstance(value, int) and not isinstance(value, bool):
    value = float(value)
  if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
    raise TypeError(f'param {key} takes {typ.__name__}, got {type(value).__name__} {value!r}')
  return json.dumps(value).encode()


class Params:
  def __init__(self, path: str = None):
    self.path = path or params_dir()

  def _spec(self, key):
    if key not in KEYS:
      raise ValueError(f'unknown param {key!r}; known: {", ".join(sorted(KEYS))}')
    check_name(key, 'param')
    return KEYS[key]

  def get(self, key):
    """The stored value, or the key's default when unset."""
    typ, default, _ = self._spec(key)
    try:
      with open(os.path.join(self.path, key), 'rb') as f:
        value = json.loads(f.read())
    except FileNotFoundError:
      return default
    except ValueError as e:
      raise ValueError(f'param {key} in {self.path} is corrupt: {e}') from None
    if typ is float and isinstance(value, int):
      value = float(value)
    if not isinstance(value, typ):
      raise TypeError(f'param {key} in {self.path} holds {type(value).__name__}, expected {typ.__name__}')
    return value

  def put(self, key, value) -> None:
    typ, _, _ = self._spec(key)
    data = _encode(key, typ, value)
    fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f'.{key}.')
    try:
      os.write(fd, data)
      os.fsync(fd)
      os.close(fd)
      os.rename(tmp, os.path.join(self.path, key))
    except BaseException:
      os.unlink(tmp)
      raise

  def delete(self, key) -> None:
    self._spec(key)
    try:
      os.unlink(os.path.join(self.path, key))
    except FileNotFoundError:
      pass

  def all(self) -> dict:
    return {k: self.get(k) for k in KEYS}
