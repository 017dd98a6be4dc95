"""LogReader for Python: the Events of a log file, a segment or a route range.

  from loggerd.logreader import LogReader
  for ev in LogReader("data/routes/2026-11-24--18-52-19/2:5"):
    if ev.which() == "can": ...

Specs as in loggerd/route.h: a log file (rlog/qlog, .zst or raw), a segment
directory, "<root>/<route>" or "<root>/<route>/a:b". Events come from
cereal.messaging.log_from_bytes; raw=True yields the serialized bytes instead,
as the file framed them, without the Event check below.
only=[services] keeps those union members (decoded events only).

Damage (a truncated or corrupt file, an empty file) ends that file: every intact
event before it is yielded, the reason is appended to `warnings` and reported with
warnings.warn, and reading goes on with the next file. An event that is well
framed but not a readable Event (cereal/event_check.h) is skipped alone, with a
warning naming its file and index, and counted in `bad_events`; the events after
it are yielded. strict=True raises RuntimeError instead of warning. A spec that
names nothing raises ValueError.
"""
import warnings as _warnings

from loggerd import logreader_ext as _ext


def _decoder(raw):
  if raw:
    return lambda b: b
  try:
    from cereal.messaging import log_from_bytes
  except ImportError as e:
    raise ImportError("LogReader needs cereal.messaging.log_from_bytes to decode events "
                      f"({e}); pass raw=True for the serialized bytes") from e
  return log_from_bytes


def resolve_logs(spec, qlog=False):
  """(files, missing): the log files a spec names, and segments lacking that log."""
  return _ext.resolve_logs(str(spec), qlog)


class LogReader:
  """The Events of a log file, a segment or a route range, in order.

    for ev in LogReader("myroute/2:5", only=["can"]):   # a route under $CONDUIT_LOG_ROOT
      print(ev.logMonoTime, ev.can[0].address)

  spec    a log file (rlog/qlog, .zst or raw), a segment directory, a route
          name (under $CONDUIT_LOG_ROOT, else ./data/routes), name/3 (one
          segment), name/2:5 (segments 2..4; negative bounds count from the
          newest), or a path <root>/<route>[/a:b]
  qlog    read the decimated qlog instead of rlog
  only    a list of services: yield only those events
  raw     yield each event's serialized bytes instead (no check, no decoding)
  strict  raise RuntimeError on damage instead of warning

  Events are read-only Cap'n Proto readers (ev.which(), ev.<service>,
  ev.to_dict()). Damage never raises unless strict: a truncated or corrupt
  file ends at its last intact event, an unreadable event is skipped alone;
  each is appended to `warnings` (and warned) and counted in `bad_events`.
  `files` lists the log files the spec named. A spec that names nothing
  raises ValueError saying what was expected.
  """

  def __init__(self, spec, qlog=False, strict=False, raw=False, only=None):
    """Resolves `spec` now (ValueError when it names no log); reads on iteration."""
    if raw and only:
      raise ValueError("LogReader: `only` filters decoded events; it cannot be combined with raw=True")
    self.files, missing = resolve_logs(spec, qlog)
    self.strict = strict
    self.only = set(only) if only else None
    self.warnings = []
    self.bad_events = 0
    self._decode = _decoder(raw)
    self._raw = raw
    for m in missing:
      self._warn(m)
    if not self.files:
      raise ValueError(f"log spec {spec!r} names no log file")

  def _warn(self, msg):
    if self.strict:
      raise RuntimeError(msg)
    self.warnings.append(msg)
    _warnings.warn(msg, RuntimeWarning, stacklevel=3)

  def __iter__(self):
    """Reads the files anew on every iteration; warnings and bad_events accumulate."""
    for path in self.files:
      reader = _ext.LogFileReader(path, self.strict)
      for data in reader:
        problem = None if self._raw else _ext.event_problem(data)
        if problem is not None:
          self.bad_events += 1
          self._warn(f"{path}: event {reader.events - 1} is not a readable Event ({problem}); skipped it")
          continue
        ev = self._decode(data)
        if self.only is not None and ev.which() not in self.only:
          continue
        yield ev
      if reader.warning:
        self._warn(reader.warning)
