"""The process table: every process the manager runs, in one place.

To add your own process, append a ProcessSpec: a native binary (argv) or a
Python module (python=), when it should run (enabled), its restart policy and
its watchdog limit. See manager/process.py for the fields. Arguments come from
Params (manager/params.py), so ./launch options and tests configure them there.

Frame layout: the pipeline runs camerad with I420 buffers (Param CameraPixelFormat
= yuv420p), not the NV12 that docs/architecture.md names first and camerad defaults to. The design
asks for frames to reach the encoder "without a copy where the encoder allows",
and libx265, the road encoder on every machine without NVENC, accepts only planar
input: x265 rejects NV12 pictures at x265_encoder_encode. From NV12 buffers
encoderd has to split U and V out of every frame (a third of the frame copied);
from I420 buffers it lends the planes as they are (tools/bench/run encoder
measures both: frame_copies). The other consumers do not care:
modeld's kernels read chroma through (offset, row stride, pixel step) at the same
cost for both, qcamera's libswscale reads either, and the synthetic and file
sources write either directly. Only a v4l2 camera that delivers NV12 costs a
conversion in camerad then (its mmap path copies once anyway); set
CameraPixelFormat=nv12 for such a camera when it can DMA straight into the buffers.
"""
import os
import signal

from manager.process import ProcessSpec

# CPU cores one libx265 stream takes at 1928x1208, 20 fps (tools/bench/run
# encoder), and what modeld, camerad and loggerd need beside the encoders.
HEVC_CORES_FULL_SIZE = 1.4
OTHER_CORES = 0.6


def default_encoded_cameras(enabled, size='1928x1208', fps=20, cpus=None):
  """What encoderd encodes to H.265 when EncodedCameras is unset: as many of the
  enabled cameras as the cores allow (libx265 cost scales with pixels per
  second), road first, at least one. On 2 cores at 1928x1208 that is road only:
  road + wide H.265 loses about half the frames there (pipeline bench,
  road_wide_hevc). A machine whose GPU has NVENC can encode them all: set
  EncodedCameras."""
  cpus = cpus or len(os.sched_getaffinity(0))
  w, h = (int(v) for v in size.split('x'))
  per_stream = HEVC_CORES_FULL_SIZE * (w * h * fps) / (1928 * 1208 * 20)
  fit = max(1, int((cpus - OTHER_CORES) / per_stream))
  ordered = sorted(enabled, key=lambda c: c != 'road')
  return [c for c in enabled if c in ordered[:fit]]


def encoded_cameras(params):
  """The cameras encoderd encodes to H.265: Params EncodedCameras, else the default above."""
  return params.get('EncodedCameras') or default_encoded_cameras(params.get('EnabledCameras'), params.get('FrameSize'),
                                                                 params.get('Fps'))


def _camerad(params):
  return ['build/bin/camerad', '--source', params.get('CameraSource'), '--cameras', ','.join(params.get('EnabledCameras')),
          '--fps', str(params.get('Fps')), '--size', params.get('FrameSize'), '--pixel-format',
          params.get('CameraPixelFormat'), '--rt-priority', '50']


def _encoderd(params):
  return ['build/bin/encoderd', '--cameras', ','.join(encoded_cameras(params)),
          '--segment-seconds', str(params.get('SegmentSeconds')), '--fps', str(params.get('Fps'))]


def _modeld(params):
  backend = params.get('ModelBackend')
  return ['build/bin/modeld'] + ([] if backend == 'auto' else ['--backend', backend])


def _log_root_env(params):
  return {'CONDUIT_LOG_ROOT': params.get('LogRoot')} if params.get('LogRoot') else {}


def _loggerd(params):
  if not params.get('LoggerdSqpoll'):
    return ['build/bin/loggerd']
  return ['build/bin/loggerd', '--io', 'io_uring_sqpoll', '--sqpoll-idle-ms', str(params.get('LoggerdSqpollIdleMs'))]


def _loggerd_env(params):
  return {'LOGGERD_SEGMENT_SECONDS': str(params.get('SegmentSeconds')),
          'LOGGERD_MIN_FREE_PERCENT': str(params.get('DeleterFreePercent')), **_log_root_env(params)}


def _streamd(params):
  return ['build/bin/streamd', '--port', str(params.get('ServePort'))]


def _bridge(params):
  argv = ['build/bin/bridge']
  if params.get('BridgePublish'):
    argv += ['--publish', params.get('BridgePublish'), '--bind', params.get('BridgeBind')]
  if params.get('BridgeFrom'):
    argv += ['--from', params.get('BridgeFrom'), '--subscribe', params.get('BridgeSubscribe')]
  return argv


# encoderd runs at nice 5: where the cores are short (2 cores: encoderd alone
# wants ~1.4 of them) it yields to modeld and loggerd. It can afford to: it reads
# every frame in order and VisionIPC's buffers hold a few frames for it to catch
# up, while modeld conflates and a late frame is a lost model output. camerad is
# SCHED_FIFO and ahead of both anyway.
PROCESSES = [
  ProcessSpec('camerad', _camerad, restart='always', watchdog=5.0),
  ProcessSpec('modeld', _modeld, enabled=lambda p: p.get('ModelEnabled'), restart='always', watchdog=10.0),
  ProcessSpec('encoderd', _encoderd, restart='always', watchdog=10.0, nice=5),
  # A manager killed outright leaves loggerd a SIGTERM: it ends the route with
  # its sentinel and exits by itself (SIGALRM ends a stop that hangs).
  ProcessSpec('loggerd', _loggerd, env=_loggerd_env, restart='always', watchdog=10.0,
              death_signal=signal.SIGTERM),
  # Off by default (./launch --serve): it opens a TCP port, on 127.0.0.1 only.
  ProcessSpec('streamd', _streamd, enabled=lambda p: p.get('ServeEnabled'), env=_log_root_env, restart='always'),
  # Off by default (Params BridgePublish / BridgeFrom): it opens TCP ports.
  ProcessSpec('bridge', _bridge, enabled=lambda p: bool(p.get('BridgePublish') or p.get('BridgeFrom')),
              restart='always', watchdog=5.0),
  # The worked example of a process of your own (README "Your own process and messages").
  ProcessSpec('sensor_filter', python='examples.sensor_filter', enabled=lambda p: p.get('ExampleEnabled'),
              watchdog=5.0),
]
