"""The default model end to end (runtime vs numpy, meaningful outputs,
deterministic build), the pipeline's two-frame input, and clear errors for bad
models: from compile_model (unsupported ops, dynamic shapes) and from the
runtime's loader (corrupt files, wrong version, shape mismatches naming the node)."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import pytest

from modeld import _modeld
from modeld.models import default_model
from modeld.numpy_reference import run_onnx
from modeld.onnx_compiler import SCHEMA, CompileError, compile_model
from modeld.tests.helpers import (DEFAULT_MODEL, DEFAULT_ONNX, RUNTIME_BACKENDS, ROOT, backend_or_skip,
                                  one_op_model, synthetic_nv12)

W, H = 1928, 1208


def model_frames(seed_a, seed_b, matrix=None):
  """Two consecutive model frames (6 planes each) from synthetic camera frames."""
  t = _modeld.Transform('cpu', 256, 128)
  m = _modeld.default_warp(W, H, 256, 128) if matrix is None else matrix
  planes = []
  for seed in (seed_a, seed_b):
    frame, stride, uv = synthetic_nv12(W, H, seed=seed)
    planes.append(t.run(frame, W, H, stride, uv, m))
  return np.concatenate(planes)[None]


@pytest.mark.parametrize('backend', RUNTIME_BACKENDS)
def test_default_model_matches_numpy(backend):
  backend_or_skip(pytest, backend)
  x = model_frames(1, 2, _modeld.default_warp(W, H, 256, 128) @ np.array([[1, 0, 3], [0, 1, 1], [0, 0, 1]]))
  want = run_onnx(DEFAULT_ONNX, {'img': x})
  runner = _modeld.Runner(backend, DEFAULT_MODEL)
  got = dict(zip(runner.output_names, runner.run([x])))
  assert set(got) == {'row_edges', 'scene_change', 'features'}
  for name, value in got.items():
    np.testing.assert_allclose(value, want[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_default_model_outputs_are_meaningful():
  runner = _modeld.Runner('cpu', DEFAULT_MODEL)
  still = dict(zip(runner.output_names, runner.run([model_frames(5, 5)])))
  cut = np.concatenate([model_frames(5, 5)[:, :6], 255 - model_frames(6, 6)[:, 6:]], axis=1)
  changed = dict(zip(runner.output_names, runner.run([cut])))
  assert still['scene_change'][0, 0] < 0.05
  assert changed['scene_change'][0, 0] > 0.95
  assert abs(still['features'].sum() - 1) < 1e-5

  # Vertical stripes in the upper half only: strong edges there, none below.
  x = np.full((1, 12, 64, 128), 128, np.float32)
  x[:, :, :32, :] = np.where((np.arange(128) // 4) % 2, 255, 0)
  rows = runner.run([x])[0][0]
  assert rows[:31].min() > 0.3
  assert rows[33:].max() < 1e-6


def test_default_model_build_is_deterministic():
  a = default_model.build().SerializeToString()
  b = default_model.build().SerializeToString()
  assert a == b
  assert a == onnx.load(DEFAULT_ONNX).SerializeToString()
  assert compile_model(default_model.build()) == open(DEFAULT_MODEL, 'rb').read()


@pytest.mark.parametrize('backend', ['cpu', 'opencl'])
def test_pipeline_feeds_previous_and_current_frame(backend):
  backend_or_skip(pytest, backend)
  p = _modeld.Pipeline(backend, DEFAULT_MODEL)
  assert (p.model_width, p.model_height, p.frames_per_input) == (256, 128, 2)
  m = _modeld.default_warp(W, H, 256, 128)
  frames = [synthetic_nv12(W, H, seed=s) for s in (11, 12)]
  t = p.process(frames[0][0], W, H, frames[0][1], frames[0][2], m)
  assert t['total_ms'] >= t['transform_ms'] > 0
  first = p.model_input()
  np.testing.assert_array_equal(first[0, :6], first[0, 6:])  # no history yet: both halves are frame 0
  p.process(frames[1][0], W, H, frames[1][1], frames[1][2], m)
  x = p.model_input()
  np.testing.assert_array_equal(x[0, :6], first[0, 6:])
  want = model_frames(11, 12)
  assert np.abs(x - want).max() <= 1
  runner = _modeld.Runner('cpu', DEFAULT_MODEL)
  expected = dict(zip(runner.output_names, runner.run([x])))
  for name, value in p.outputs().items():
    np.testing.assert_allclose(value, expected[name], rtol=1e-4, atol=1e-6)


# ---- compile_model errors

def test_unsupported_ops_are_all_named():
  from onnx import TensorProto, helper
  nodes = [helper.make_node('Relu', ['x'], ['a'], name='ok'),
           helper.make_node('Resize', ['a', '', 'scales'], ['b'], name='upsample'),
           helper.make_node('Pad', ['b', 'pads'], ['y'], name='pad_it')]
  graph = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 1, 2, 2])],
                            [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 1, 4, 4])],
                            [helper.make_tensor('scales', TensorProto.FLOAT, [4], [1, 1, 2, 2]),
                             helper.make_tensor('pads', TensorProto.INT64, [8], [0] * 8)])
  model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
  model.ir_version = 7
  path = os.path.join(tempfile.mkdtemp(prefix='modeld_test_'), 'bad.onnx')
  onnx.save(model, path)
  r = subprocess.run([sys.executable, os.path.join(ROOT, 'modeld', 'compile_model'), path, '-o', path + '.cmodel'],
                     capture_output=True, text=True)
  assert r.returncode == 1
  assert "node 'upsample' (Resize)" in r.stderr and "node 'pad_it' (Pad)" in r.stderr
  assert not os.path.exists(path + '.cmodel')


def test_dynamic_input_needs_a_shape():
  model = one_op_model('Relu', {'x': [1, 4]})
  model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = 'batch'
  with pytest.raises(CompileError, match="dynamic dimension \\(batch\\).*--shape x="):
    compile_model(model)
  assert compile_model(model, {'x': (2, 4)})


def test_unsupported_attribute_names_the_node():
  model = one_op_model('MaxPool', {'x': [1, 1, 5, 5]}, {'kernel_shape': [2, 2], 'ceil_mode': 1})
  with pytest.raises(CompileError, match="node 'the_maxpool' \\(MaxPool\\): ceil_mode=1"):
    compile_model(model)


# ---- runtime loader errors (files written directly, bypassing compile_model's checks)

def encode(text):
  r = subprocess.run(['capnp', 'encode', SCHEMA, 'Model'], input=text.encode(), capture_output=True, check=True)
  return r.stdout


def conv_model(weight_shape, data_floats=None, version=1, out_shape='[]', conv_input='x'):
  n = int(np.prod(weight_shape)) if data_floats is None else data_floats
  data = np.zeros(n, '<f4').tobytes().hex()
  return encode(f'(formatVersion = {version}, inputs = [(name = "x", shape = [1, 3, 8, 8])], '
                f'outputs = [(name = "y", shape = {out_shape})], '
                f'initializers = [(name = "w", shape = {list(weight_shape)}, data = 0x"{data}")], '
                f'nodes = [(name = "conv_a", inputs = ["{conv_input}", "w"], outputs = ["y"], '
                f'conv = (strides = [1, 1], pads = [0, 0, 0, 0], dilations = [1, 1], group = 1))])')


def load_error(data):
  with tempfile.NamedTemporaryFile(suffix='.cmodel') as f:
    f.write(data)
    f.flush()
    with pytest.raises(_modeld.ModelError) as e:
      _modeld.check_model(f.name)
    return str(e.value)


def test_loader_accepts_a_good_handwritten_model():
  with tempfile.NamedTemporaryFile(suffix='.cmodel') as f:
    f.write(conv_model((4, 3, 3, 3), out_shape='[1, 4, 6, 6]'))
    f.flush()
    _modeld.check_model(f.name)


@pytest.mark.parametrize('data, message', [
    (lambda: b'', 'not a compiled model: 0 bytes'),
    (lambda: b'\x00' * 13, 'not a compiled model: 13 bytes'),
    (lambda: bytes(range(256)) * 4, 'not a valid compiled model'),
    (lambda: conv_model((4, 3, 3, 3))[:-16], 'not a valid compiled model'),
    (lambda: conv_model((4, 3, 3, 3), version=7), 'format version 7, expected 1'),
    (lambda: conv_model((4, 5, 3, 3)), "node 'conv_a' \\(Conv\\): weight 'w' \\[4, 5, 3, 3\\] expects 5 input channels, "
                                       "input 'x' \\[1, 3, 8, 8\\] has 3"),
    (lambda: conv_model((4, 3, 3, 3), data_floats=10), "initializer 'w' has 40 bytes of data"),
    (lambda: conv_model((4, 3, 3, 3), conv_input='nope'), "node 'conv_a' \\(Conv\\): input 'nope' is not"),
    (lambda: conv_model((4, 3, 3, 3), out_shape='[1, 4, 8, 8]'),
     "model output 'y' is declared \\[1, 4, 8, 8\\] but the graph computes \\[1, 4, 6, 6\\]"),
    (lambda: conv_model((4, 3, 9, 9)), "node 'conv_a' \\(Conv\\): height: window of 9 does not fit"),
])
def test_loader_errors_are_clear(data, message):
  import re
  err = load_error(data())
  assert re.search(message, err), err


def test_missing_file_is_a_clear_error():
  with pytest.raises(_modeld.ModelError, match='cannot open the model file'):
    _modeld.check_model('/nonexistent/model.cmodel')


@pytest.mark.parametrize('backend', ['cpu', 'opencl'])
def test_pipeline_with_a_single_frame_model(backend, tmp_path):
  """A model taking one frame ([1, 6, H, W]) gets exactly the transform's planes."""
  backend_or_skip(pytest, backend)
  model = one_op_model('Conv', {'img': [1, 6, 16, 32]}, {}, {'w': np.full((1, 6, 1, 1), 1 / 6, np.float32)})
  path = tmp_path / 'single.cmodel'
  path.write_bytes(compile_model(model))
  p = _modeld.Pipeline(backend, str(path))
  assert (p.model_width, p.model_height, p.frames_per_input) == (64, 32, 1)
  frame, stride, uv = synthetic_nv12(W, H, seed=4)
  m = _modeld.default_warp(W, H, 64, 32)
  p.process(frame, W, H, stride, uv, m)
  planes = _modeld.Transform('cpu', 64, 32).run(frame, W, H, stride, uv, m)
  assert np.abs(p.model_input()[0] - planes).max() <= 1
  np.testing.assert_allclose(p.outputs()['y0'][0, 0], p.model_input()[0].mean(axis=0), rtol=1e-5)


def test_uninitialized_objects_are_refused():
  """X.__new__(X) without __init__ has no C++ object behind it: a TypeError, never a crash."""
  for cls, use in ((_modeld.Transform, lambda t: t.run), (_modeld.Runner, lambda r: r.input_names),
                   (_modeld.Pipeline, lambda p: p.outputs())):
    with pytest.raises(TypeError, match='never initialized'):
      use(cls.__new__(cls))


# ---- malformed models: compile_model refuses them naming the node (they used
# to compile "OK" and fail only when modeld loaded them, or crash compile_model)

def malformed(op, inputs, attrs=None, inits=None, out_rank=None):
  """A one-node model `bad_<op>` whose output shape is left symbolic (nothing
  valid could be given for it)."""
  from onnx import TensorProto, helper, numpy_helper
  inits = inits or {}
  rank = out_rank or len(next(iter(inputs.values())))
  node = helper.make_node(op, list(inputs) + list(inits), ['y'], name=f'bad_{op.lower()}', **(attrs or {}))
  graph = helper.make_graph([node], 'g', [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
                            [helper.make_tensor_value_info('y', TensorProto.FLOAT, [f'd{i}' for i in range(rank)])],
                            [v if isinstance(v, onnx.TensorProto) else numpy_helper.from_array(np.asarray(v), k)
                             for k, v in inits.items()])
  model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid('', 13)])
  model.ir_version = 7
  return model


def short_initializer():
  t = onnx.numpy_helper.from_array(np.zeros(4, np.float32), 'w')
  t.raw_data = b'\0' * 8  # 2 floats for a shape of 4
  return t


X4 = {'x': [1, 2, 4, 4]}
W2 = {'w': np.zeros((2, 2, 2, 2), np.float32)}


@pytest.mark.parametrize('model, message', [
    (lambda: malformed('Gemm', {'x': [2, 3]}, inits={'w': np.zeros((4, 5), np.float32)}),
     "node 'bad_gemm' \\(Gemm\\): A \\[2, 3\\] and B \\[4, 5\\] disagree on K"),
    (lambda: malformed('Conv', X4, {'group': 0}, W2), "node 'bad_conv' \\(Conv\\): group 0"),
    (lambda: malformed('Conv', X4, {'group': 3}, W2), "node 'bad_conv' \\(Conv\\): .*multiples of group 3"),
    (lambda: malformed('Conv', X4, {'dilations': [0, 1]}, W2), "node 'bad_conv' \\(Conv\\): dilations \\[0, 1\\]"),
    (lambda: malformed('Conv', X4, {'pads': [-1, 0, 0, 0]}, W2), "node 'bad_conv' \\(Conv\\): pads \\[-1, 0, 0, 0\\]"),
    (lambda: malformed('Conv', X4, {}, {'w': np.zeros((2, 2, 2, 2), np.float32), 'b': np.zeros(3, np.float32)}),
     "node 'bad_conv' \\(Conv\\): bias 'b' has shape \\[3\\], expected \\[2\\]"),
    (lambda: malformed('MaxPool', X4, {'kernel_shape': [0, 2]}), "node 'bad_maxpool' \\(MaxPool\\): kernel_shape \\[0, 2\\]"),
    (lambda: malformed('MaxPool', X4, {'kernel_shape': [9, 9]}), "node 'bad_maxpool' \\(MaxPool\\): height: window of 9"),
    (lambda: malformed('MaxPool', X4, {'kernel_shape': [2, 2], 'pads': [3, 0, 0, 0]}),
     "node 'bad_maxpool' \\(MaxPool\\): pads 3/0 must be"),
    (lambda: malformed('GlobalAveragePool', {'x': [1, 4]}), "node 'bad_globalaveragepool' \\(GlobalAveragePool\\): input 'x'"),
    (lambda: malformed('Reshape', {'x': [1, 4]}, inits={'s': np.array([3, 3], np.int64)}),
     "node 'bad_reshape' \\(Reshape\\): cannot reshape \\[1, 4\\]"),
    (lambda: malformed('Add', {'x': [1, 4]}, inits={'w': short_initializer()}),
     "initializer 'w' of shape \\[4\\] has unreadable data"),
])
def test_malformed_models_are_refused_naming_the_node(model, message):
  with pytest.raises(CompileError, match=message):
    compile_model(model())


def test_zero_strides_do_not_crash_the_compiler(tmp_path):
  """strides=0 made ONNX's shape inference die with SIGFPE (exit -8)."""
  model = malformed('MaxPool', X4, {'kernel_shape': [2, 2], 'strides': [0, 0]})
  path = tmp_path / 'stride0.onnx'
  onnx.save(model, str(path))
  r = subprocess.run([sys.executable, os.path.join(ROOT, 'modeld', 'compile_model'), str(path), '-o', str(path) + '.cmodel'],
                     capture_output=True, text=True)
  assert r.returncode == 1, r.stderr
  assert "node 'bad_maxpool' (MaxPool): strides [0, 0]: expected 2 values in 1.." in r.stderr
  assert not os.path.exists(str(path) + '.cmodel')
