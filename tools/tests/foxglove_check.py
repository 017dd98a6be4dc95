"""Helpers of the Foxglove/MCAP tests: run the Node reference readers
(tools/tests/js) and read their JSON back into to_dict()'s terms."""
import base64
import json
import math
import os
import select
import subprocess

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'js')


def node(script, *args, timeout=60):
  """Runs tools/tests/js/<script> and returns its JSON output."""
  p = subprocess.run(['node', os.path.join(JS, script), *map(str, args)], capture_output=True, text=True,
                     timeout=timeout)
  assert p.returncode == 0, f"node {script} failed:\n{p.stderr}"
  return json.loads(p.stdout)


def from_json(value, schema):
  """A message of the documented JSON convention (tools/mcap/event_json.h) back
  in to_dict() terms, guided by its JSON Schema: 64-bit integer strings -> int,
  base64 -> bytes, "NaN"/"Infinity" -> float."""
  if 'oneOf' in schema or schema.get('type') == 'object':
    return {k: from_json(v, schema['properties'][k]) for k, v in value.items()}
  if schema.get('type') == 'array':
    return [from_json(v, schema['items']) for v in value]
  if schema.get('contentEncoding') == 'base64':
    return base64.b64decode(value)
  if 'Int64' in schema.get('description', ''):
    return int(value)
  if isinstance(value, str) and schema.get('type') == ['number', 'string']:
    return float(value.replace('Infinity', 'inf'))
  return value


def same(a, b):
  """Equal, with Float32 values compared at float32 precision (the JSON holds
  the shortest decimal of the float32, to_dict its double widening)."""
  if isinstance(a, dict):
    return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
  if isinstance(a, list):
    return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
  if isinstance(a, float) or isinstance(b, float):
    if math.isnan(a) or math.isnan(b):
      return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-30)
  return a == b and type(a) is type(b)


def server_url(proc, timeout=30):
  """The ws:// URL tools/foxglove prints when it listens; fails (never hangs)
  if it does not within `timeout` seconds."""
  ready, _, _ = select.select([proc.stdout], [], [], timeout)
  line = proc.stdout.readline() if ready else ''
  assert 'listening on ws://' in line, f"tools/foxglove did not start: {line!r} (exit {proc.poll()})"
  return line.split()[3]
