"""A CONDUIT_PREFIX for a block of a test or benchmark: the Python side of
prefix.h's ScopedPrefix (pytest tests get one per test from conftest.py).

  with scoped_prefix(f'bench_{os.getpid()}'):       # the bench's own bus
    ...
  with scoped_prefix(other, remove=False):          # join another bus for a moment
    sm = messaging.SubMaster(['can'])               # sockets keep the prefix they were made under
"""
import contextlib
import os
import shutil

from common.prefix import prefix_dir


@contextlib.contextmanager
def scoped_prefix(name, remove=True):
  """CONDUIT_PREFIX=name in this process inside the block; afterwards the
  previous value is back and, when `remove`, the prefix's shm directory is gone."""
  old = os.environ.get('CONDUIT_PREFIX')
  os.environ['CONDUIT_PREFIX'] = name
  try:
    yield name
  finally:
    if old is None:
      del os.environ['CONDUIT_PREFIX']
    else:
      os.environ['CONDUIT_PREFIX'] = old
    if remove:
      shutil.rmtree(prefix_dir(name), ignore_errors=True)
