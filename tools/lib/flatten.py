"""Flattening of Event dicts into dotted columns (export, plot):
  {'can': [{'address': 5, 'dat': b'\x01'}]} -> {'can.0.address': 5, 'can.0.dat': 'AQ=='}
Data becomes base64, as in the tools' JSON (tools/mcap/event_json.h)."""
import base64


def flatten(value, prefix='', out=None):
  out = {} if out is None else out
  if isinstance(value, dict):
    for k, v in value.items():
      flatten(v, f"{prefix}.{k}" if prefix else k, out)
  elif isinstance(value, (list, tuple)):
    for i, v in enumerate(value):
      flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
  elif isinstance(value, (bytes, bytearray)):
    out[prefix] = base64.b64encode(bytes(value)).decode()
  else:
    out[prefix] = value
  return out


def lookup(value, path, root=''):
  """The value at dotted `path` inside nested dicts/lists (`root` names `value`
  in errors); KeyError naming the first part that does not exist and what
  exists there instead."""
  cur = value
  done = [root] if root else []
  for part in path.split('.'):
    if isinstance(cur, dict):
      if part not in cur:
        raise KeyError(f"no field {part!r} in {'.'.join(done) or 'the message'}; fields: {', '.join(cur)}")
      cur = cur[part]
    elif isinstance(cur, (list, tuple)):
      if not part.lstrip('-').isdigit() or not -len(cur) <= int(part) < len(cur):
        raise KeyError(f"{'.'.join(done)} is a list of {len(cur)}; {part!r} is not an index in it")
      cur = cur[int(part)]
    else:
      raise KeyError(f"{'.'.join(done)} is a value ({type(cur).__name__}), it has no field {part!r}")
    done.append(part)
  return cur
