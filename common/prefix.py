"""Python side of common/prefix.h: where a pipeline keeps its shared state.
CONDUIT_PREFIX=name isolates every shm file, socket and params dir."""
import os
import re
import stat

_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,128}$')


def check_name(name: str, what: str) -> str:
  """The rule of common/prefix.h's check_name: a safe single path component,
  1-128 characters of [A-Za-z0-9_.-], not "." and without ".."."""
  if not _NAME.match(name or '') or name == '.' or '..' in name:
    raise ValueError(f"{what} {name!r} is invalid: expected 1-128 characters of [A-Za-z0-9_.-], not '.', "
                     "no '/' or '..'")
  return name


def prefix() -> str:
  return os.environ.get('CONDUIT_PREFIX', '')


def prefix_dir(p: str) -> str:
  """The shm directory of prefix p ('' for none); ValueError for an invalid name."""
  return '/dev/shm/conduit' + (('_' + check_name(p, 'CONDUIT_PREFIX')) if p else '')


def shm_dir() -> str:
  """The pipeline's directory, created 0700 if missing. Raises PermissionError when
  it exists but is not a directory of this user that only this user can enter."""
  d = prefix_dir(prefix())
  os.makedirs(d, mode=0o700, exist_ok=True)
  st = os.lstat(d)
  wrong = ('is not a directory' if not stat.S_ISDIR(st.st_mode) else
           'is owned by another user' if st.st_uid != os.geteuid() else
           'can be entered by other users' if st.st_mode & 0o077 else None)
  if wrong:
    raise PermissionError(f"{d} {wrong} (uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o}): refusing to use it "
                          "for conduit's shared memory; remove it (it may hold another user's files) or pick another "
                          "CONDUIT_PREFIX")
  return d


def log_root() -> str:
  return os.environ.get('CONDUIT_LOG_ROOT', os.path.join(os.getcwd(), 'data', 'routes'))
