"""A service's fields as cereal/log.capnp declares them, for the tools that take
field names (dump --field, schema, plot): the tree of fields, and a dotted path
checked against it (list indices allowed) with the nearest names on a typo."""
from tools.lib.cli import ToolError, unknown


def service_schema(service):
  """(kind, info) of a service's body: a struct (info is its StructSchema) or a list."""
  from cereal import log
  return log.Event.field_info[service]


def lines(service):
  """The field tree of `service`, one 'path  type' line per field."""
  out = []

  def walk(info, path, depth):
    kind = info['kind']
    if kind == 'struct':
      out.append(f"{'  ' * depth}{path}  {info['schema'].name}")
      for name, sub in info['schema'].field_info.items():
        walk(sub, name, depth + 1)
      return
    if kind == 'list':
      el = info['element']
      if el['kind'] == 'struct':
        out.append(f"{'  ' * depth}{path}  list of {el['schema'].name}")
        for name, sub in el['schema'].field_info.items():
          walk(sub, name, depth + 1)
        return
      out.append(f"{'  ' * depth}{path}  list of {_type(el)}")
      return
    out.append(f"{'  ' * depth}{path}  {_type(info)}")

  walk(service_schema(service), service, 0)
  return out


def _type(info):
  if info['kind'] == 'enum':
    return 'enum (' + ', '.join(info['enumerants']) + ')'
  if info['kind'] == 'list':
    return 'list of ' + _type(info['element'])
  return info['kind']


def check_field(service, path):
  """Raises ToolError when the dotted `path` names no field of `service`."""
  info = service_schema(service)
  done = [service]
  for part in path.split('.'):
    if info['kind'] == 'list':
      if not part.lstrip('-').isdigit():
        raise ToolError(f"{'.'.join(done)} is a list: expected an index, got {part!r}")
      info = info['element']
    elif info['kind'] == 'struct':
      fields = info['schema'].field_info
      if part not in fields:
        raise ToolError(unknown(f"field of {'.'.join(done)}:", part, list(fields)))
      info = fields[part]
    else:
      raise ToolError(f"{'.'.join(done)} is a {info['kind']}, it has no field {part!r}")
    done.append(part)


def from_json(service, value):
  """A service body from JSON in the tools' convention (what dump --json and lr
  print: 64-bit integers as strings or numbers, Data as base64, NaN/Infinity as
  strings) as the Python values new_message/from_dict take. ToolError names
  the path of a value that does not fit."""
  import base64
  import binascii

  def conv(info, v, path):
    kind = info['kind']
    if kind == 'struct':
      if not isinstance(v, dict):
        raise ToolError(f"{path}: expected an object of {info['schema'].name}, got {json_type(v)}")
      fields = info['schema'].field_info
      for k in v:
        if k not in fields:
          raise ToolError(unknown(f"field of {path}:", k, list(fields)))
      return {k: conv(fields[k], x, f"{path}.{k}") for k, x in v.items()}
    if kind == 'list':
      if not isinstance(v, list):
        raise ToolError(f"{path}: expected a list, got {json_type(v)}")
      return [conv(info['element'], x, f"{path}.{i}") for i, x in enumerate(v)]
    if kind == 'data':
      try:
        return base64.b64decode(v, validate=True)
      except (binascii.Error, TypeError):
        raise ToolError(f"{path}: expected base64 text (Data), got {v!r}") from None
    if kind.startswith(('int', 'uint')):
      try:
        return int(v) if not isinstance(v, bool) else None
      except (TypeError, ValueError):
        raise ToolError(f"{path}: expected an integer ({kind}), got {v!r}") from None
    if kind.startswith('float'):
      try:
        return float(v)
      except (TypeError, ValueError):
        raise ToolError(f"{path}: expected a number ({kind}), got {v!r}") from None
    if kind == 'enum' and v not in info['enumerants']:
      raise ToolError(unknown(f"value of {path}:", str(v), info['enumerants']))
    return v

  return conv(service_schema(service), value, service)


def json_type(v):
  return {dict: 'an object', list: 'a list', str: 'text', bool: 'a boolean', type(None): 'null'}.get(type(v), 'a number')
