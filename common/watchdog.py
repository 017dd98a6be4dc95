"""Python side of common/watchdog.h: heartbeats the manager's watchdog reads.
Each file <shm_dir>/watchdog/<pid> holds the CLOCK_MONOTONIC ns of the last kick."""
import mmap
import os
import struct
import time

from common.prefix import shm_dir

_word = None
_owner = None


def watchdog_dir() -> str:
  return os.path.join(shm_dir(), 'watchdog')


def kick() -> None:
  global _word, _owner
  if _owner != os.getpid():
    os.makedirs(watchdog_dir(), mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(watchdog_dir(), str(os.getpid())), os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, 8)
    _word = mmap.mmap(fd, 8)
    os.close(fd)
    _owner = os.getpid()
  _word[:8] = struct.pack('<Q', time.monotonic_ns())


def last_kick_ns(pid: int):
  """CLOCK_MONOTONIC ns of pid's last kick, or None if it never kicked."""
  try:
    with open(os.path.join(watchdog_dir(), str(pid)), 'rb') as f:
      data = f.read(8)
  except FileNotFoundError:
    return None
  return struct.unpack('<Q', data)[0] if len(data) == 8 and data != b'\0' * 8 else None


def forget(pid: int) -> None:
  try:
    os.unlink(os.path.join(watchdog_dir(), str(pid)))
  except FileNotFoundError:
    pass
