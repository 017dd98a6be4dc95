"""camerad/encoderd command lines: --help documents every option the manager
passes, and bad options fail fast with a message naming what was expected."""
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def run(*argv):
  env = dict(os.environ, CONDUIT_PREFIX=f'cli{os.getpid()}')
  return subprocess.run([os.path.join(ROOT, 'build', 'bin', argv[0]), *argv[1:]], capture_output=True, text=True,
                        timeout=60, env=env)


@pytest.mark.parametrize('prog,options', [
  ('camerad', ['--source', '--cameras', '--fps', '--size', '--pixel-format', '--buffers', '--server', '--frames',
               '--no-loop', '--rt-priority']),
  ('encoderd', ['--cameras', '--server', '--fps', '--segment-seconds', '--segment-frames', '--codec', '--bitrate',
                '--gop', '--preset', '--tune', '--x265-params', '--x264-params', '--no-qcam', '--qcam-size',
                '--qcam-bitrate', '--qcam-codec']),
])
def test_help_documents_every_option(prog, options):
  r = run(prog, '--help')
  assert r.returncode == 0
  for opt in options:
    assert opt in r.stdout, f'{prog} --help does not mention {opt}'


@pytest.mark.parametrize('argv,expected', [
  (['camerad', '--fps', 'fast'], "--fps expects an integer in 1..1000, got 'fast'"),
  (['camerad', '--cameras', 'road,rear'], "unknown camera 'rear'"),
  (['camerad', '--size', '1927x1208'], 'expects WIDTHxHEIGHT with even sizes'),
  (['camerad', '--pixel-format', 'rgb24'], "pixel format 'rgb24': expected nv12 or yuv420p"),
  (['encoderd', '--codec', 'mpeg9'], "no encoder named 'mpeg9'"),
  (['encoderd', '--x265-params', 'warp-speed=9'], 'rejected an option in x265 params'),
  (['encoderd', '--bogus'], 'unknown option --bogus'),
])
def test_bad_options_fail_with_a_clear_message(argv, expected):
  r = run(*argv)
  assert r.returncode == 2
  assert expected in r.stderr, r.stderr
