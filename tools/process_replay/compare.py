"""Compares a process's outputs with its reference, field by field.

Events are flattened to {field path: value} ("modelV2.frameId",
"sensorEvents.0.values.1"). A path in `ignore` (or under one) is skipped; a
path in `tolerance` may differ by at most that much (numbers). Every other
difference is one readable line: service, message index and input frame,
field path, reference value, new value.
"""
import math


def flatten(value, prefix=""):
  if isinstance(value, dict):
    out = {}
    for k, v in value.items():
      out.update(flatten(v, f"{prefix}.{k}" if prefix else k))
    return out
  if isinstance(value, list):
    out = {}
    for i, v in enumerate(value):
      out.update(flatten(v, f"{prefix}.{i}"))
    out[f"{prefix}.len"] = len(value)
    return out
  return {prefix: value}


def _ignored(path, ignore):
  return any(path == p or path.startswith(p + ".") for p in ignore)


def _close(a, b, tol):
  if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
    return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= tol)
  return a == b


def _show(v):
  text = repr(v)
  return text if len(text) <= 60 else text[:57] + "..."


def compare(ref, new, ignore=(), tolerance=None):
  """Lines describing every difference between two lists of (frame, event dict);
  empty when they match."""
  tolerance = tolerance or {}
  lines = []
  by_service = {}
  for side, events in (("ref", ref), ("new", new)):
    for frame, ev in events:
      service = next(k for k in ev if k not in ("logMonoTime", "valid"))
      by_service.setdefault(service, {"ref": [], "new": []})[side].append((frame, ev))
  for service, sides in by_service.items():
    r, n = sides["ref"], sides["new"]
    if len(r) != len(n):
      lines.append(f"{service}: {len(r)} messages in the reference, {len(n)} now")
    for i, ((rf, re), (nf, ne)) in enumerate(zip(r, n)):
      a, b = flatten(re), flatten(ne)
      for path in sorted(set(a) | set(b)):
        if _ignored(path, ignore):
          continue
        if path not in a or path not in b or not _close(a[path], b[path], tolerance.get(path, 0)):
          lines.append(f"{service} #{i} (frame {nf}): {path}: ref {_show(a.get(path, '<missing>'))} "
                       f"!= new {_show(b.get(path, '<missing>'))}")
  return lines
