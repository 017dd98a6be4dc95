"""replay in a terminal (a pty): keys control it and the status line shows it."""
import os
import pty
import re
import select
import subprocess
import time

BIN = os.path.join(os.path.dirname(__file__), '..', '..', 'build', 'bin')


def _read_until(fd, pattern, timeout=15):
  out = b''
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
      try:
        out += os.read(fd, 4096)
      except OSError:
        break
      if re.search(pattern, out):
        return out
  raise AssertionError(f'{pattern!r} not seen; got {out[-400:]!r}')


def test_keys_pause_seek_speed_and_quit(route):
  _, path = route
  master, slave = pty.openpty()
  p = subprocess.Popen([os.path.join(BIN, 'replay'), '--no-vipc', path], stdin=slave, stdout=slave, stderr=slave)
  os.close(slave)
  try:
    _read_until(master, rb'playing')
    os.write(master, b' ')
    _read_until(master, rb'paused')
    os.write(master, b'+')
    _read_until(master, rb'2\.0x  paused')
    os.write(master, b'f')  # +10 s clamps to the end of the 4 s route
    _read_until(master, rb'0:00:04 / 0:00:04')
    os.write(master, b' ')
    # At the end a terminal replay waits for the user instead of exiting.
    _read_until(master, rb'done')
    assert p.poll() is None
    os.write(master, b'\x1b[D')  # left arrow: back 10 s, to the start, plays again
    _read_until(master, rb'0:00:0[0-3] / 0:00:04  seg 0  2\.0x  playing')
    os.write(master, b'q')
    out = _read_until(master, rb'replay: finished:')
    assert p.wait(10) == 0
    assert b'messages=' in out
  finally:
    if p.poll() is None:
      p.kill()
      p.wait()
    os.close(master)
