"""Python side of common/prefix.h: where a pipeline keeps its shared state.
CONDUIT_PREFIX=name isolates every shm file, socket and params dir."""
import os
import re

_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,128}$')


def check_name(name: str, what: str) -> str:
  if not _NAME.match(name or '') or '..' in name:
    raise ValueError(f"{what} {name!r} is invalid: expected 1-128 characters of [A-Za-z0-9_.-], no '/' or '..'")
  return name


def prefix() -> str:
  return os.environ.get('CONDUIT_PREFIX', '')


def shm_dir() -> str:
  p = prefix()
  d = '/dev/shm/conduit' + (('_' + check_name(p, 'CONDUIT_PREFIX')) if p else '')
  os.makedirs(d, mode=0o700, exist_ok=True)
  return d


def log_root() -> str:
  return os.environ.get('CONDUIT_LOG_ROOT', os.path.join(os.getcwd(), 'data', 'routes'))
