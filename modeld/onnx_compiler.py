"""ONNX -> modeld's compiled model format (modeld/model.capnp).

The runtime executes a fixed op set on float32 tensors with static shapes.
Compiling checks everything it can up front (ops, attributes, dtypes, shapes)
and says which node is wrong and why: window attributes and initializers
before ONNX's own checker and shape inference see them (they trust them), and
the result with the runtime's loader (modeld/_modeld) before it is written, so
a model that compiles is one modeld loads. Constants and Identity nodes are folded away; Reshape targets must
be constants. The message is written with `capnp encode` (package capnproto).
"""
import os
import subprocess

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from modeld import _modeld

FORMAT_VERSION = 1
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model.capnp')

SUPPORTED = ('Conv', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Add', 'Mul', 'Concat', 'MaxPool',
             'AveragePool', 'GlobalAveragePool', 'Gemm', 'MatMul', 'Reshape', 'Flatten', 'Transpose', 'Softmax')
FOLDED = ('Constant', 'Identity')


INT_MAX = 2**31 - 1  # the runtime's limit on dimensions and attribute values


class CompileError(Exception):
  pass


def _node_name(node, index):
  return node.name or f'{node.op_type}_{index}'


def _node_error(node, index, what):
  return CompileError(f"node '{_node_name(node, index)}' ({node.op_type}): {what}")


def _array(tensor, what):
  """A TensorProto as numpy, or CompileError saying why its data cannot be read."""
  if tensor.data_location == onnx.TensorProto.EXTERNAL:
    raise CompileError(f'{what} keeps its data in an external file: modeld compiles self-contained models only')
  if any(d < 0 or d > INT_MAX for d in tensor.dims) or int(np.prod(tensor.dims, dtype=object)) > INT_MAX:
    raise CompileError(f'{what} has shape {list(tensor.dims)}: expected dimensions 0..{INT_MAX} and at most {INT_MAX} '
                       'elements')
  try:
    return numpy_helper.to_array(tensor)
  except Exception as e:  # short or malformed data: numpy and onnx raise several types
    raise CompileError(f'{what} of shape {list(tensor.dims)} has unreadable data: {e}') from None


def _check_windows(graph):
  """The attributes ONNX's own shape inference trusts are checked before it
  runs: it divides by strides (strides=0 killed compile_model with SIGFPE)."""
  for i, n in enumerate(graph.node):
    if n.op_type not in ('Conv', 'MaxPool', 'AveragePool'):
      continue
    a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
    for name, count, lo in (('kernel_shape', 2, 1), ('strides', 2, 1), ('dilations', 2, 1), ('pads', 4, 0)):
      if name not in a:
        continue
      v = a[name]
      if not isinstance(v, list) or len(v) != count or any(not lo <= x <= INT_MAX for x in v):
        raise _node_error(n, i, f'{name} {v}: expected {count} values in {lo}..{INT_MAX} (2-D windows only)')
    if 'group' in a and not (isinstance(a['group'], int) and 1 <= a['group'] <= INT_MAX):
      raise _node_error(n, i, f"group {a['group']}: expected 1..{INT_MAX}")


def _text(s):
  return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def _float(x):
  return repr(float(np.float32(x)))


def _ints(xs):
  return '[' + ', '.join(str(int(x)) for x in xs) + ']'


class _Compiler:
  def __init__(self, model, shapes):
    self.model = model
    self.graph = model.graph
    self.opset = next((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), 0)
    if self.opset < 7:
      raise CompileError(f'ONNX opset {self.opset} is too old: modeld needs opset >= 7 (numpy broadcasting)')
    self.overrides = shapes
    self.consts = {}   # name -> numpy array
    self.alias = {}    # Identity output -> input
    self.shapes = {}   # value name -> tuple of ints
    self.used = set()  # values read by the compiled nodes

  def fail(self, node, index, what):
    raise _node_error(node, index, what)

  def resolve(self, name):
    while name in self.alias:
      name = self.alias[name]
    return name

  def attrs(self, node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

  def run(self):
    g = self.graph
    for t in g.initializer:
      self.consts[t.name] = _array(t, f"initializer '{t.name}'")
    unsupported = []
    for i, n in enumerate(g.node):
      if n.domain not in ('', 'ai.onnx') or n.op_type not in SUPPORTED + FOLDED:
        unsupported.append(f"node '{_node_name(n, i)}' ({n.domain + '.' if n.domain else ''}{n.op_type})")
    if unsupported:
      raise CompileError('unsupported ops: ' + ', '.join(unsupported) + '; modeld runs ' + ', '.join(SUPPORTED))

    inputs = []
    for vi in g.input:
      if vi.name in self.consts:
        continue
      inputs.append((vi.name, self.static_shape(vi, 'model input')))
    self.infer_shapes(inputs)

    nodes = []
    for i, n in enumerate(g.node):
      if n.op_type == 'Constant':
        a = self.attrs(n)
        if 'value' not in a:
          self.fail(n, i, 'only Constant with a tensor `value` is supported')
        self.consts[n.output[0]] = _array(a['value'], f"node '{_node_name(n, i)}' (Constant) value")
      elif n.op_type == 'Identity':
        self.alias[n.output[0]] = n.input[0]
        if n.input[0] in self.consts:
          self.consts[n.output[0]] = self.consts[n.input[0]]
      else:
        nodes.append(self.node(n, i))

    inits = []
    for name, arr in self.consts.items():
      if name not in self.used or name in self.alias:
        continue
      if arr.dtype != np.float32:
        raise CompileError(f"initializer '{name}' has dtype {arr.dtype}, modeld computes in float32 "
                           '(only Reshape shapes may be int64)')
      inits.append(f'(name = {_text(name)}, shape = {_ints(arr.shape)}, '
                   f'data = 0x"{np.ascontiguousarray(arr, "<f4").tobytes().hex()}")')

    outputs = []
    for vo in g.output:
      name = self.resolve(vo.name)
      if name != vo.name:
        raise CompileError(f"model output '{vo.name}' is an Identity of '{name}': name the producing node's output instead")
      outputs.append(f'(name = {_text(name)}, shape = {_ints(self.shapes.get(name, ()))})')

    ins = [f'(name = {_text(n)}, shape = {_ints(s)})' for n, s in inputs]
    return (f'(formatVersion = {FORMAT_VERSION}, producer = {_text(self.producer())}, '
            f'inputs = [{", ".join(ins)}], outputs = [{", ".join(outputs)}], '
            f'initializers = [{", ".join(inits)}], nodes = [{", ".join(nodes)}])')

  def producer(self):
    return f'modeld/compile_model from {self.model.producer_name or "?"} (opset {self.opset})'

  def static_shape(self, vi, what):
    if vi.name in self.overrides:
      return tuple(self.overrides[vi.name])
    t = vi.type.tensor_type
    if t.elem_type != onnx.TensorProto.FLOAT:
      raise CompileError(f"{what} '{vi.name}' has element type "
                         f'{onnx.TensorProto.DataType.Name(t.elem_type)}, modeld takes FLOAT')
    dims = []
    for d in t.shape.dim:
      if d.HasField('dim_value') and d.dim_value > 0:
        dims.append(d.dim_value)
      else:
        raise CompileError(f"{what} '{vi.name}' has a dynamic dimension ({d.dim_param or '?'}): modeld needs static "
                           f'shapes; give it with --shape {vi.name}=1,3,224,224 (for example)')
    return tuple(dims)

  def infer_shapes(self, inputs):
    m = onnx.ModelProto()
    m.CopyFrom(self.model)
    if self.overrides:  # shapes derived from the old input shapes no longer hold
      del m.graph.value_info[:]
      for vo in m.graph.output:
        vo.type.tensor_type.ClearField('shape')
    for vi in m.graph.input:
      for name, shape in inputs:
        if vi.name == name:
          vi.type.tensor_type.ClearField('shape')
          for d in shape:
            vi.type.tensor_type.shape.dim.add().dim_value = d
    try:
      m = shape_inference.infer_shapes(m, strict_mode=True)
    except Exception as e:  # onnx raises several types; the message is what matters
      raise CompileError(f'ONNX shape inference failed: {e}') from None
    for vi in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input):
      dims = vi.type.tensor_type.shape.dim
      if all(d.HasField('dim_value') and d.dim_value > 0 for d in dims):  # else the runtime's check names the node
        self.shapes[vi.name] = tuple(d.dim_value for d in dims)
    for name, shape in inputs:
      self.shapes[name] = shape
    for name, arr in self.consts.items():
      self.shapes[name] = arr.shape

  def rank(self, n, i, name):
    name = self.resolve(name)
    if name in self.consts:
      return self.consts[name].ndim
    if name not in self.shapes:
      self.fail(n, i, f"the shape of '{name}' is unknown after shape inference")
    return len(self.shapes[name])

  def axis(self, n, i, axis, rank, allow_end=False):
    lo, hi = -rank, rank if allow_end else rank - 1
    if not lo <= axis <= hi:
      self.fail(n, i, f'axis {axis} is outside {lo}..{hi}')
    return axis + rank if axis < 0 else axis

  def window_pads(self, n, i, a, kernel, strides, dilations):
    auto_pad = a.get('auto_pad', b'NOTSET')
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ('NOTSET', ''):
      pads = list(a.get('pads', [0, 0, 0, 0]))
      if len(pads) != 4:
        self.fail(n, i, f'pads {pads}: only 2-D windows are supported (4 values)')
      return pads
    if auto_pad == 'VALID':
      return [0, 0, 0, 0]
    if auto_pad not in ('SAME_UPPER', 'SAME_LOWER'):
      self.fail(n, i, f'unknown auto_pad {auto_pad}')
    x = self.shapes.get(self.resolve(n.input[0]))
    if x is None:
      self.fail(n, i, 'auto_pad SAME needs a known input shape')
    pads = [0, 0, 0, 0]
    for d in range(2):
      size = x[2 + d]
      out = -(-size // strides[d])
      total = max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size)
      small, big = total // 2, total - total // 2
      pads[d], pads[d + 2] = (small, big) if auto_pad == 'SAME_UPPER' else (big, small)
    return pads

  def node(self, n, i):
    a = self.attrs(n)
    ins = [self.resolve(x) if x else '' for x in n.input]
    op = n.op_type
    body = None
    if op == 'Conv':
      w = self.shapes.get(ins[1]) if len(ins) > 1 else None
      if w is None or len(w) != 4:
        self.fail(n, i, f'only 2-D convolution is supported (weight of rank 4), weight shape is {w}')
      kernel = list(a.get('kernel_shape', w[2:]))
      if kernel != list(w[2:]):
        self.fail(n, i, f'kernel_shape {kernel} does not match the weight {list(w)}')
      strides = list(a.get('strides', [1, 1]))
      dilations = list(a.get('dilations', [1, 1]))
      pads = self.window_pads(n, i, a, kernel, strides, dilations)
      body = (f'conv = (strides = {_ints(strides)}, pads = {_ints(pads)}, dilations = {_ints(dilations)}, '
              f'group = {int(a.get("group", 1))})')
    elif op in ('Relu', 'Sigmoid', 'Tanh', 'Add', 'Mul', 'GlobalAveragePool', 'MatMul'):
      body = f'{op[0].lower() + op[1:]} = void'
    elif op == 'LeakyRelu':
      body = f'leakyRelu = (alpha = {_float(a.get("alpha", 0.01))})'
    elif op == 'Elu':
      body = f'elu = (alpha = {_float(a.get("alpha", 1.0))})'
    elif op == 'Concat':
      body = f'concat = (axis = {self.axis(n, i, a["axis"], self.rank(n, i, ins[0]))})'
    elif op in ('MaxPool', 'AveragePool'):
      if len(n.output) > 1 and n.output[1]:
        self.fail(n, i, 'the Indices output is not supported')
      kernel = list(a['kernel_shape'])
      if len(kernel) != 2:
        self.fail(n, i, f'kernel_shape {kernel}: only 2-D pooling is supported')
      if a.get('ceil_mode', 0):
        self.fail(n, i, 'ceil_mode=1 is not supported (use explicit pads)')
      if any(d != 1 for d in a.get('dilations', [1, 1])):
        self.fail(n, i, 'dilations other than 1 are not supported')
      strides = list(a.get('strides', [1, 1]))
      pads = self.window_pads(n, i, a, kernel, strides, [1, 1])
      name = 'maxPool' if op == 'MaxPool' else 'averagePool'
      body = (f'{name} = (kernel = {_ints(kernel)}, strides = {_ints(strides)}, pads = {_ints(pads)}, '
              f'countIncludePad = {"true" if a.get("count_include_pad", 0) else "false"})')
    elif op == 'Gemm':
      body = (f'gemm = (alpha = {_float(a.get("alpha", 1.0))}, beta = {_float(a.get("beta", 1.0))}, '
              f'transA = {"true" if a.get("transA", 0) else "false"}, '
              f'transB = {"true" if a.get("transB", 0) else "false"})')
    elif op == 'Reshape':
      if len(ins) < 2 or ins[1] not in self.consts:
        self.fail(n, i, 'the target shape must be a constant (an initializer or a Constant node)')
      if a.get('allowzero', 0):
        self.fail(n, i, 'allowzero=1 is not supported')
      body = f'reshape = (shape = {_ints(self.consts[ins[1]].reshape(-1))})'
      ins = ins[:1]
    elif op == 'Flatten':
      body = f'flatten = (axis = {self.axis(n, i, a.get("axis", 1), self.rank(n, i, ins[0]), allow_end=True)})'
    elif op == 'Transpose':
      rank = self.rank(n, i, ins[0])
      perm = list(a.get('perm', range(rank - 1, -1, -1)))
      body = f'transpose = (perm = {_ints(perm)})'
    elif op == 'Softmax':
      rank = self.rank(n, i, ins[0])
      axis = self.axis(n, i, a.get('axis', -1 if self.opset >= 13 else 1), rank)
      if self.opset < 13 and axis != rank - 1:
        self.fail(n, i, f'opset {self.opset} Softmax flattens from axis {axis}; modeld supports only the last '
                        'axis before opset 13')
      body = f'softmax = (axis = {axis})'
    name = _node_name(n, i)
    self.used.update(x for x in ins if x)
    return (f'(name = {_text(name)}, inputs = [{", ".join(_text(x) for x in ins)}], '
            f'outputs = [{", ".join(_text(x) for x in n.output)}], {body})')


def compile_model(model, shapes=None):
  """ONNX ModelProto (or path) -> compiled model bytes. Raises CompileError."""
  if isinstance(model, (str, bytes, os.PathLike)):
    try:
      model = onnx.load(model, load_external_data=False)
    except Exception as e:
      raise CompileError(f'cannot read the ONNX file: {e}') from None
  _check_windows(model.graph)
  try:
    onnx.checker.check_model(model)
  except Exception as e:
    raise CompileError(f'invalid ONNX model: {e}') from None
  text = _Compiler(model, shapes or {}).run()
  r = subprocess.run(['capnp', 'encode', SCHEMA, 'Model'], input=text.encode(), capture_output=True)
  if r.returncode != 0:
    raise CompileError('capnp encode failed: ' + r.stderr.decode(errors='replace')[-2000:])
  # The runtime's loader is the one judge of a compiled model: what it would
  # refuse at modeld's start is refused here, naming the node.
  try:
    _modeld.check_model_bytes(r.stdout, 'compiled model')
  except _modeld.ModelError as e:
    raise CompileError(str(e)) from None
  return r.stdout


def main(argv=None):
  import argparse
  import sys
  ap = argparse.ArgumentParser(prog='compile_model', description=__doc__.split('\n\n')[0])
  ap.add_argument('onnx', help='input ONNX file')
  ap.add_argument('-o', '--output', required=True, help='compiled model file to write')
  ap.add_argument('--shape', action='append', default=[], metavar='INPUT=D0,D1,...',
                  help='static shape of an input with dynamic dimensions')
  args = ap.parse_args(argv)
  shapes = {}
  for s in args.shape:
    name, _, dims = s.partition('=')
    try:
      shapes[name] = tuple(int(d) for d in dims.split(','))
    except ValueError:
      ap.error(f'--shape {s}: expected NAME=D0,D1,...')
  try:
    data = compile_model(args.onnx, shapes)
  except CompileError as e:
    print(f'compile_model: {args.onnx}: {e}', file=sys.stderr)
    return 1
  tmp = args.output + '.tmp'
  with open(tmp, 'wb') as f:
    f.write(data)
  os.replace(tmp, args.output)
  print(f'compile_model: {args.onnx} -> {args.output} ({len(data) / 1024:.1f} KiB)')
  return 0
