"""The process table: every process the manager runs, in one place.

To add your own process, append a ProcessSpec: a native binary (argv) or a
Python module (python=), when it should run (enabled), its restart policy and
its watchdog limit. See manager/process.py for the fields.
"""
from manager.process import ProcessSpec


def _camerad(params):
  return ['build/bin/camerad', '--source', params.get('CameraSource'),
          '--cameras', ','.join(params.get('EnabledCameras')), '--fps', str(params.get('Fps'))]


def _encoderd(params):
  return ['build/bin/encoderd', '--cameras', ','.join(params.get('EnabledCameras')),
          '--segment-seconds', str(params.get('SegmentSeconds')), '--fps', str(params.get('Fps'))]


def _modeld(params):
  return ['build/bin/modeld', '--backend', params.get('ModelBackend')]


def _loggerd(params):
  argv = ['build/bin/loggerd', '--segment-seconds', str(params.get('SegmentSeconds'))]
  if params.get('LogRoot'):
    argv += ['--log-root', params.get('LogRoot')]
  return argv


PROCESSES = [
  ProcessSpec('camerad', _camerad, restart='always', watchdog=5.0),
  ProcessSpec('modeld', _modeld, enabled=lambda p: p.get('ModelEnabled'), restart='always', watchdog=10.0),
  ProcessSpec('encoderd', _encoderd, restart='always', watchdog=10.0),
  ProcessSpec('loggerd', _loggerd, restart='always', watchdog=10.0),
]
