"""The process table: every process the manager runs, in one place.

To add your own process, append a ProcessSpec: a native binary (argv) or a
Python module (python=), when it should run (enabled), its restart policy and
its watchdog limit. See manager/process.py for the fields. Arguments come from
Params (manager/params.py), so ./launch options and tests configure them there.
"""
import os

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
          '--fps', str(params.get('Fps')), '--size', params.get('FrameSize'), '--rt-priority', '50']


def _encoderd(params):
  return ['build/bin/encoderd', '--cameras', ','.join(encoded_cameras(params)),
          '--segment-seconds', str(params.get('SegmentSeconds')), '--fps', str(params.get('Fps'))]


def _modeld(params):
  backend = params.get('ModelBackend')
  return ['build/bin/modeld'] + ([] if backend == 'auto' else ['--backend', backend])


def _loggerd_env(params):
  env = {'LOGGERD_SEGMENT_SECONDS': str(params.get('SegmentSeconds')),
         'LOGGERD_MIN_FREE_PERCENT': str(params.get('DeleterFreePercent'))}
  if params.get('LogRoot'):
    env['CONDUIT_LOG_ROOT'] = params.get('LogRoot')
  return env


# encoderd runs at nice 5: where the cores are short (2 cores: encoderd alone
# wants ~1.4 of them) it yields to modeld and loggerd. It can afford to: it reads
# every frame in order and VisionIPC's buffers hold a few frames for it to catch
# up, while modeld conflates and a late frame is a lost model output. camerad is
# SCHED_FIFO and ahead of both anyway.
PROCESSES = [
  ProcessSpec('camerad', _camerad, restart='always', watchdog=5.0),
  ProcessSpec('modeld', _modeld, enabled=lambda p: p.get('ModelEnabled'), restart='always', watchdog=10.0),
  ProcessSpec('encoderd', _encoderd, restart='always', watchdog=10.0, nice=5),
  ProcessSpec('loggerd', ['build/bin/loggerd'], env=_loggerd_env, restart='always', watchdog=10.0),
]
