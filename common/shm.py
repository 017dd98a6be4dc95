"""A prefix's shared memory as a whole (/dev/shm/conduit[_<prefix>]): which live
processes use it, which prefixes are live, and removing one nobody uses.

A process uses a prefix when it maps one of its rings, holds one of its files
open, or serves one of its VisionIPC sockets. Reading /proc needs no privilege
for the user's own processes, the only ones that can use the user's 0700 dirs."""
import os
import shutil
import socket

from common.prefix import prefix_dir  # noqa: F401 (one naming rule; callers use shm.prefix_dir)

SHM = '/dev/shm'


def prefix_of(d):
  name = os.path.basename(d)
  return name[len('conduit_'):] if name.startswith('conduit_') else ''


def _comm(pid):
  try:
    with open(f'/proc/{pid}/comm') as f:
      return f.read().strip()
  except OSError:
    return '?'


def _users_by_dir(exclude):
  """{prefix dir: {pid: command}} from one pass over /proc: maps and open fds."""
  found = {}
  head = os.path.join(SHM, 'conduit')
  for entry in os.listdir('/proc'):
    if not entry.isdigit() or int(entry) in exclude:
      continue
    pid = int(entry)
    paths = []
    try:
      with open(f'/proc/{pid}/maps') as f:
        paths = [line.split(None, 5)[-1].strip() for line in f if head in line]
      fd_dir = f'/proc/{pid}/fd'
      for fd in os.listdir(fd_dir):
        try:
          paths.append(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
          pass
    except OSError:
      continue  # gone meanwhile, or not ours
    for path in paths:
      if path.startswith(head):
        d = os.path.join(SHM, os.path.relpath(path, SHM).split('/')[0])
        found.setdefault(d, {})[pid] = _comm(pid)
  return found


def users(d, exclude=None):
  """{pid: command} of the live processes using directory d (pid 0: a VisionIPC
  socket that answers). Leaves out this process unless exclude says otherwise."""
  d = d.rstrip('/')
  found = _users_by_dir((os.getpid(),) if exclude is None else exclude).get(d, {})
  if not found and os.path.isdir(d):
    for name in os.listdir(d):
      if name.endswith('.sock') and _serving(os.path.join(d, name)):
        return {0: f'a VisionIPC server on {name}'}
  return found


def _serving(path):
  s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
  try:
    s.connect(path)
    return True
  except OSError:
    return False
  finally:
    s.close()


def live_prefixes():
  """Prefixes ('' for none) whose shared memory a live process (not this one) uses."""
  return sorted(prefix_of(d) for d in _users_by_dir((os.getpid(),)))


def remove(prefix, exclude=None):
  """Removes the prefix's directory when nothing live uses it (this process
  counts only when exclude=() says so). Returns {} on success (or when there was
  nothing), else the users, and removes nothing."""
  d = prefix_dir(prefix)
  if not os.path.isdir(d):
    return {}
  busy = users(d, exclude)
  if busy:
    return busy
  shutil.rmtree(d, ignore_errors=True)
  return {}


def describe_prefixes(prefixes):
  return ', '.join(repr(p) if p else '(none)' for p in prefixes)
