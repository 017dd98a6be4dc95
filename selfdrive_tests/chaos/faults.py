"""What the chaos suite does to a running pipeline besides SIGKILL: corrupt a
live msgq ring (header or data), corrupt VisionIPC control blocks through the
processes' memfds, fill the log disk (a small tmpfs), stop a process for a while."""
import contextlib
import os
import random
import signal
import struct
import subprocess
import time

PUBLISHER_WORD = 24  # offset of RingHeader::publisher (msgq/ring.h)
RING_HEADER_BYTES = 8192


def ring_path(prefix, topic):
  return f'/dev/shm/conduit_{prefix}/{topic}'


def take_over_publisher(prefix, topic):
  """Writes a pid nobody has into the ring's publisher word: its publisher's
  next send finds itself replaced (the fault that took the manager down)."""
  with open(ring_path(prefix, topic), 'r+b') as f:
    f.seek(PUBLISHER_WORD)
    f.write(struct.pack('<Q', (0x7ffffff0 << 32) | 1))


def scribble_ring_data(prefix, topic, rng, nbytes=4096):
  """Random bytes over part of the ring's data: message headers and payloads."""
  path = ring_path(prefix, topic)
  size = os.path.getsize(path) - RING_HEADER_BYTES
  off = RING_HEADER_BYTES + rng.randrange(0, max(1, size - nbytes))
  with open(path, 'r+b') as f:
    f.seek(off)
    f.write(rng.randbytes(nbytes))
  return off


def scribble_control_block(pids, rng):
  """Random bytes over every VisionIPC control memfd the processes `pids` have
  open (the server's generations, each client's hold page: memfd:vipc_*),
  through /proc/<pid>/fd. Returns (written, refused): the server's block is
  sealed against writes, a client's hold page is the client's to spoil."""
  written = refused = 0
  for pid in pids:
    fd_dir = f'/proc/{pid}/fd'
    try:
      fds = os.listdir(fd_dir)
    except OSError:
      continue
    for fd in fds:
      try:
        if 'memfd:vipc_' not in os.readlink(os.path.join(fd_dir, fd)):
          continue
        with open(os.path.join(fd_dir, fd), 'r+b', buffering=0) as f:
          f.write(rng.randbytes(512))
        written += 1
      except PermissionError:
        refused += 1
      except OSError:
        continue
  return written, refused


def stop_for(pid, seconds):
  """SIGSTOP pid, wait, SIGCONT (also when interrupted)."""
  os.kill(pid, signal.SIGSTOP)
  try:
    time.sleep(seconds)
  finally:
    try:
      os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
      pass


@contextlib.contextmanager
def small_tmpfs(path, size_mb):
  """A tmpfs of size_mb mounted at path (needs root), unmounted afterwards."""
  os.makedirs(path, exist_ok=True)
  subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size_mb}m,mode=0700', 'tmpfs', path], check=True,
                 capture_output=True)
  try:
    yield path
  finally:
    subprocess.run(['umount', '-l', path], check=False, capture_output=True)


def can_mount():
  return os.geteuid() == 0


def fill_disk(path):
  """Fills the filesystem of `path` to the last block with one file; returns its path."""
  filler = os.path.join(path, 'filler')
  with open(filler, 'wb', buffering=0) as f:
    for chunk in (1 << 20, 4096, 512):
      with contextlib.suppress(OSError):
        while f.write(b'\0' * chunk) == chunk:
          pass
  return filler


def randomness(seed):
  return random.Random(seed)
