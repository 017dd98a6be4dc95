"""A recorded route as the CLI tools see it: its segments (number, directory,
log file), gaps in the numbering, and segments without a log — resolved by
loggerd's one resolver (loggerd/route.h): a route name under the log root,
name/segment, name/a:b, a path <root>/<route>[/a:b], a segment directory or one
log file."""
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
  spec: str = ''  # the spec as given: C++ tools resolve it the same way (same log root in the environment)


def log_root():
  from common.prefix import log_root as root
  return root()


def open_route(spec, qlog=False):
  """Raises ToolError (unknown route, bad range) with loggerd's explanation.
  One resolver for every tool (loggerd/route.h): a bare name, name/segment or
  name/a:b is looked up under the log root (--log-root, $CONDUIT_LOG_ROOT)."""
  from loggerd.logreader import resolve_logs
  if not spec:
    raise ToolError('no route given: expected a route name, <root>/<route>[/a:b] or a segment directory')
  try:
    files, missing = resolve_logs(spec, qlog)
  except ValueError as e:
    raise ToolError(f"route {spec!r} not found: {e}{_nearest_route(spec)}") from None
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
  return Route(name or os.path.basename(files[0]), segments, gaps, list(missing), spec)


def list_routes(root=None):
  """{route name: [segment directories, by number]} under the log root."""
  root = root or log_root()
  routes = {}
  if not os.path.isdir(root):
    return routes
  for entry in os.listdir(root):
    m = _SEGMENT_DIR.match(entry)
    if m and os.path.isdir(os.path.join(root, entry)):
      routes.setdefault(m.group(1), []).append((int(m.group(2)), os.path.join(root, entry)))
  return {name: [d for _, d in sorted(segs)] for name, segs in sorted(routes.items())}


def _nearest_route(spec):
  import difflib
  name = spec.split('/')[0]
  if os.sep in spec.rstrip('/') and not spec.split('/')[-1].replace(':', '').lstrip('-').isdigit():
    return ''
  near = difflib.get_close_matches(name, list(list_routes()), n=2, cutoff=0.6)
  return f"; did you mean {' or '.join(near)}?" if near else ''


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
