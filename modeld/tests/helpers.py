"""Shared helpers of modeld's Python tests: one-op ONNX models, compiling them,
and the backends to run on."""
import os
import tempfile

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from modeld import _modeld
from modeld.numpy_reference import run_onnx
from modeld.onnx_compiler import compile_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_ONNX = os.path.join(ROOT, 'build', 'modeld', 'default_model.onnx')
DEFAULT_MODEL = os.path.join(ROOT, 'build', 'modeld', 'default_model.cmodel')
RUNTIME_BACKENDS = ['cpu', 'opencl', 'cuda']


def backend_or_skip(pytest, name):
  why = _modeld.unavailable_reason(name)
  if why:
    pytest.skip(f'{name} backend unavailable: {why}')
  return name


def one_op_model(op, input_shapes, attrs=None, consts=None, n_outputs=1, opset=13):
  """A model with a single `op` node. input_shapes: {name: shape} graph inputs,
  consts: {name: array} initializers; node inputs are inputs then consts, in order."""
  consts = consts or {}
  names = list(input_shapes) + list(consts)
  node = helper.make_node(op, names, [f'y{i}' for i in range(n_outputs)], name=f'the_{op.lower()}', **(attrs or {}))
  inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in input_shapes.items()]
  inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]

  def build(out_shapes):
    outputs = [helper.make_tensor_value_info(f'y{i}', TensorProto.FLOAT, s) for i, s in enumerate(out_shapes)]
    graph = helper.make_graph([node], f'one_{op}', inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)])
    model.ir_version = 7
    return model

  # Output shapes as the numpy reference computes them (unknown until evaluated).
  probe = run_onnx(build([[1]] * n_outputs), {n: np.zeros(s, np.float32) for n, s in input_shapes.items()})
  return build([list(probe[f'y{i}'].shape) for i in range(n_outputs)])


class Compiled:
  """A model compiled into a temporary file (deleted on close)."""

  def __init__(self, model, shapes=None):
    fd, self.path = tempfile.mkstemp(suffix='.cmodel', prefix='modeld_test_')
    with os.fdopen(fd, 'wb') as f:
      f.write(compile_model(model, shapes))

  def __enter__(self):
    return self.path

  def __exit__(self, *exc):
    os.unlink(self.path)


def synthetic_nv12(width, height, stride=None, uv_pad=0, seed=0):
  """A deterministic NV12 frame with structure (gradients, a checkerboard, noise).
  Returns (bytes array, stride, uv_offset)."""
  stride = stride or width
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:height, 0:width]
  luma = (xx * 255 // max(width - 1, 1) + ((xx // 16 + yy // 16) % 2) * 60 + rng.integers(0, 30, (height, width))) % 256
  uv_offset = stride * height + uv_pad
  buf = np.zeros(uv_offset + stride * height // 2, np.uint8)
  buf[:stride * height].reshape(height, stride)[:, :width] = luma
  cy, cx = np.mgrid[0:height // 2, 0:width // 2]
  uv = buf[uv_offset:].reshape(height // 2, stride)
  uv[:, 0:width:2] = (cx * 7 + cy * 3) % 256
  uv[:, 1:width:2] = (255 - cx * 5 + rng.integers(0, 10, cx.shape)) % 256
  return buf, stride, uv_offset
