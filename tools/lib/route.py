"""A recorded route as the CLI tools see it: its segments (number, directory,
log file), gaps in the numbering, and segments without a log — resolved with
loggerd's spec rules (loggerd/route.h): a route name under the log root, a path
<root>/<route>, a range <route>/a:b, a segment directory or one log file."""
import os
import re
from typing import NamedTuple

from tools.lib.cli import ToolError

_SEGMENT_DIR = re.compile(r'^(.+)--(\d{1,9})$')


class Segment(NamedTuple):
  number: int
  dir: str
  log: str

  def file(self, name):
    return os.path.join(self.dir, name)


class Route(NamedTuple):
  name: str
  segments: list
  gaps: list      # segment numbers absent between the first and the last
  missing: list   # "dir: no rlog" for segment directories without the log
  spec: str = ''  # the spec as resolved: a path, with the range if one was given


def log_root():
  from common.prefix import log_root as root
  return root()


def open_route(spec, qlog=False):
  """Raises ToolError (unknown route, bad range) with loggerd's explanation."""
  from loggerd.logreader import resolve_logs
  if not spec:
    raise ToolError('no route given: expected a route name, <root>/<route>[/a:b] or a segment directory')
  # A path as given first; a relative spec that names nothing here is a route
  # (with an optional /a:b range) under the log root.
  candidates = [spec] if os.path.isabs(spec) else [spec, os.path.join(log_root(), spec)]
  if '/' not in spec and not os.path.exists(spec):
    candidates = candidates[1:]
  for i, full in enumerate(candidates):
    try:
      files, missing = resolve_logs(full, qlog)
      break
    except ValueError as e:
      if i + 1 == len(candidates):
        raise ToolError(f"route {spec!r} not found: {e}") from None
  if not files:
    raise ToolError(f"route {spec!r}: no segment in range has a {'qlog' if qlog else 'rlog'}")
  segments, gaps, name = [], [], None
  for log in files:
    d = os.path.dirname(log) or '.'
    m = _SEGMENT_DIR.match(os.path.basename(d))
    number = int(m.group(2)) if m else 0
    if m and name is None:
      name = m.group(1)
    if segments and number > segments[-1].number + 1:
      gaps.extend(range(segments[-1].number + 1, number))
    segments.append(Segment(number, d, log))
  return Route(name or os.path.basename(files[0]), segments, gaps, list(missing), os.path.abspath(full))


def read_segment(seg, services=None):
  """(events, warnings, bad_events) of one segment's log; events are Event
  readers in file order, only `services` when given. Damage ends the file with a
  warning; an unreadable event is skipped alone, warned about and counted."""
  import warnings
  from loggerd.logreader import LogReader
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    lr = LogReader(seg.log, only=services)
    events = list(lr)
  return events, lr.warnings, lr.bad_events


def lock_is_live(path):
  """True while the writer of a *.lock file holds its flock (loggerd/file_lock.h);
  a lock nobody holds was left by a writer that died."""
  import fcntl
  try:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
  except FileNotFoundError:
    return False
  except OSError:
    return True  # cannot tell: say live, so nothing in use is taken for dead
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    return False
  except OSError:
    return True
  finally:
    os.close(fd)


def segment_end(seg_dir, last_event):
  """How a segment ended: 'endOfSegment' or 'endOfRoute' (its closing sentinel),
  'recording' (a writer still holds one of its locks), or 'killed' (no closing
  sentinel and no live writer: loggerd died, the log ends at its last flush)."""
  if last_event is not None and last_event.which() == 'sentinel':
    kind = str(last_event.sentinel.type)
    if kind in ('endOfSegment', 'endOfRoute'):
      return kind
  locks = [f for f in os.listdir(seg_dir) if f.endswith('.lock')] if os.path.isdir(seg_dir) else []
  return 'recording' if any(lock_is_live(os.path.join(seg_dir, f)) for f in locks) else 'killed'
