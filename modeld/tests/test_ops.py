"""Every op of the runtime against the numpy reference, on every backend, on
random shapes including edge cases (padding, stride 2, groups, 1x1, dilation,
broadcasting, transposed Gemm, batched MatMul)."""
import numpy as np
import pytest

from modeld import _modeld
from modeld.numpy_reference import run_onnx
from modeld.tests.helpers import RUNTIME_BACKENDS, Compiled, backend_or_skip, one_op_model

RNG = np.random.default_rng(1234)


def rand(*shape):
  return RNG.standard_normal(shape).astype(np.float32)


# (id, op, input shapes, attrs, consts)
CASES = [
    ('conv_pad1', 'Conv', {'x': [1, 3, 9, 11]}, {'pads': [1, 1, 1, 1]}, {'w': rand(4, 3, 3, 3), 'b': rand(4)}),
    ('conv_stride2_pad', 'Conv', {'x': [1, 5, 16, 13]}, {'strides': [2, 2], 'pads': [1, 1, 1, 1]},
     {'w': rand(6, 5, 3, 3), 'b': rand(6)}),
    ('conv_asym_pads_stride', 'Conv', {'x': [2, 4, 10, 9]}, {'strides': [2, 3], 'pads': [0, 2, 1, 0]},
     {'w': rand(3, 4, 3, 2)}),
    ('conv_groups', 'Conv', {'x': [1, 8, 12, 12]}, {'group': 4, 'pads': [1, 1, 1, 1]}, {'w': rand(8, 2, 3, 3), 'b': rand(8)}),
    ('conv_depthwise', 'Conv', {'x': [1, 6, 7, 7]}, {'group': 6}, {'w': rand(6, 1, 3, 3)}),
    ('conv_1x1', 'Conv', {'x': [1, 16, 5, 6]}, {}, {'w': rand(7, 16, 1, 1), 'b': rand(7)}),
    ('conv_dilation', 'Conv', {'x': [1, 3, 14, 12]}, {'dilations': [2, 3], 'pads': [2, 3, 2, 3]}, {'w': rand(2, 3, 3, 3)}),
    ('conv_same_upper', 'Conv', {'x': [1, 2, 9, 8]}, {'auto_pad': 'SAME_UPPER', 'strides': [2, 2]}, {'w': rand(3, 2, 4, 4)}),
    ('conv_5x5_pad2_stride2', 'Conv', {'x': [1, 3, 17, 17]}, {'strides': [2, 2], 'pads': [2, 2, 2, 2]},
     {'w': rand(4, 3, 5, 5), 'b': rand(4)}),
    ('relu', 'Relu', {'x': [2, 3, 4, 5]}, {}, {}),
    ('leaky_relu', 'LeakyRelu', {'x': [3, 7]}, {'alpha': 0.2}, {}),
    ('sigmoid', 'Sigmoid', {'x': [1, 50]}, {}, {}),
    ('tanh', 'Tanh', {'x': [4, 4, 4]}, {}, {}),
    ('elu', 'Elu', {'x': [5, 6]}, {'alpha': 0.7}, {}),
    ('add_same', 'Add', {'a': [2, 3, 4], 'b': [2, 3, 4]}, {}, {}),
    ('add_broadcast_channel', 'Add', {'a': [1, 3, 4, 5]}, {}, {'b': rand(3, 1, 1)}),
    ('add_broadcast_both', 'Add', {'a': [4, 1, 5], 'b': [1, 3, 1]}, {}, {}),
    ('mul_scalar', 'Mul', {'a': [2, 5]}, {}, {'b': rand(1)}),
    ('mul_rank6', 'Mul', {'a': [2, 1, 3, 1, 2, 2], 'b': [1, 2, 1, 2, 1, 2]}, {}, {}),
    ('concat_axis1', 'Concat', {'a': [1, 2, 3, 4], 'b': [1, 5, 3, 4]}, {'axis': 1}, {}),
    ('concat_axis0_const', 'Concat', {'a': [2, 3]}, {'axis': 0}, {'b': rand(4, 3)}),
    ('concat_negative_axis', 'Concat', {'a': [2, 3, 1], 'b': [2, 3, 2], 'c': [2, 3, 3]}, {'axis': -1}, {}),
    ('maxpool_2x2', 'MaxPool', {'x': [1, 3, 8, 10]}, {'kernel_shape': [2, 2], 'strides': [2, 2]}, {}),
    ('maxpool_3x3_pad', 'MaxPool', {'x': [2, 2, 7, 9]}, {'kernel_shape': [3, 3], 'strides': [2, 2], 'pads': [1, 1, 1, 1]}, {}),
    ('avgpool_pad_exclude', 'AveragePool', {'x': [1, 3, 7, 7]}, {'kernel_shape': [3, 3], 'pads': [1, 1, 1, 1]}, {}),
    ('avgpool_pad_include', 'AveragePool', {'x': [1, 3, 7, 7]},
     {'kernel_shape': [3, 3], 'pads': [1, 1, 1, 1], 'count_include_pad': 1}, {}),
    ('avgpool_rect_stride', 'AveragePool', {'x': [1, 2, 9, 16]}, {'kernel_shape': [1, 4], 'strides': [1, 4]}, {}),
    ('global_avgpool', 'GlobalAveragePool', {'x': [2, 5, 6, 7]}, {}, {}),
    ('gemm_plain', 'Gemm', {'a': [3, 5]}, {}, {'b': rand(5, 4), 'c': rand(4)}),
    ('gemm_trans_ab_alpha_beta', 'Gemm', {'a': [6, 2]}, {'transA': 1, 'transB': 1, 'alpha': 0.5, 'beta': 2.0},
     {'b': rand(3, 6), 'c': rand(2, 3)}),
    ('gemm_column_bias', 'Gemm', {'a': [4, 3]}, {}, {'b': rand(3, 2), 'c': rand(4, 1)}),
    ('gemm_no_bias', 'Gemm', {'a': [2, 7], 'b': [7, 3]}, {}, {}),
    ('matmul_2d', 'MatMul', {'a': [5, 6], 'b': [6, 3]}, {}, {}),
    ('matmul_batched_broadcast', 'MatMul', {'a': [2, 3, 4, 5]}, {}, {'b': rand(5, 6)}),
    ('matmul_batch_both', 'MatMul', {'a': [3, 1, 2, 4], 'b': [1, 2, 4, 3]}, {}, {}),
    ('matmul_vector', 'MatMul', {'a': [4]}, {}, {'b': rand(4, 3)}),
    ('reshape_zero_minus1', 'Reshape', {'x': [2, 3, 4]}, {}, {'s': np.array([0, -1], np.int64)}),
    ('flatten_axis2', 'Flatten', {'x': [2, 3, 4, 5]}, {'axis': 2}, {}),
    ('flatten_axis0', 'Flatten', {'x': [2, 3, 4]}, {'axis': 0}, {}),
    ('transpose_perm', 'Transpose', {'x': [2, 3, 4, 5]}, {'perm': [0, 2, 3, 1]}, {}),
    ('transpose_default', 'Transpose', {'x': [2, 3, 4]}, {}, {}),
    ('softmax_axis1', 'Softmax', {'x': [2, 5, 3]}, {'axis': 1}, {}),
    ('softmax_last', 'Softmax', {'x': [3, 10]}, {}, {}),
]


@pytest.mark.parametrize('backend', RUNTIME_BACKENDS)
@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_op_matches_numpy(case, backend):
  backend_or_skip(pytest, backend)
  _, op, shapes, attrs, consts = case
  model = one_op_model(op, shapes, attrs, consts)
  inputs = {n: rand(*s) * 3 for n, s in shapes.items()}
  want = run_onnx(model, inputs)['y0']
  with Compiled(model) as path:
    runner = _modeld.Runner(backend, path)
    got = runner.run([inputs[n] for n in shapes])[0]
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('backend', RUNTIME_BACKENDS)
def test_conv_with_fused_activation(backend):
  """Conv followed by its only consumer, an activation, runs as one launch."""
  backend_or_skip(pytest, backend)
  from onnx import TensorProto, helper, numpy_helper
  w, b = rand(4, 3, 3, 3), rand(4)
  nodes = [helper.make_node('Conv', ['x', 'w', 'b'], ['c'], name='conv', pads=[1, 1, 1, 1], strides=[2, 2]),
           helper.make_node('LeakyRelu', ['c'], ['y0'], name='act', alpha=0.3)]
  graph = helper.make_graph(nodes, 'fused', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 10, 10])],
                            [helper.make_tensor_value_info('y0', TensorProto.FLOAT, [1, 4, 5, 5])],
                            [numpy_helper.from_array(w, 'w'), numpy_helper.from_array(b, 'b')])
  model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
  model.ir_version = 7
  x = rand(1, 3, 10, 10)
  with Compiled(model) as path:
    runner = _modeld.Runner(backend, path)
    assert runner.launch_count == 1
    got = runner.run([x])[0]
  np.testing.assert_allclose(got, run_onnx(model, {'x': x})['y0'], rtol=1e-4, atol=1e-5)


def test_numpy_reference_conv_against_direct_sum():
  """The reference itself: one output element computed by hand."""
  from modeld.numpy_reference import conv
  x, w = rand(1, 2, 5, 5).astype(np.float64), rand(2, 1, 3, 3).astype(np.float64)
  y = conv(x, w, strides=(2, 2), pads=(1, 1, 1, 1), group=2)
  xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
  assert np.isclose(y[0, 1, 1, 2], np.sum(xp[0, 1, 2:5, 4:7] * w[1, 0]))


def random_window_cases(n, seed):
  """Random Conv/MaxPool/AveragePool configurations (kernel, stride, pads, dilation, groups)."""
  rng = np.random.default_rng(seed)
  cases = []
  for i in range(n):
    group = int(rng.choice([1, 1, 2, 3]))
    cin, cout = group * int(rng.integers(1, 4)), group * int(rng.integers(1, 6))
    k = [int(rng.integers(1, 5)), int(rng.integers(1, 5))]
    stride = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
    dil = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    pads = [int(rng.integers(0, k[0])), int(rng.integers(0, k[1])), int(rng.integers(0, k[0])), int(rng.integers(0, k[1]))]
    h = dil[0] * (k[0] - 1) + 1 + int(rng.integers(0, 12))
    w = dil[1] * (k[1] - 1) + 1 + int(rng.integers(0, 12))
    consts = {'w': rand(cout, cin // group, *k)}
    if rng.integers(0, 2):
      consts['b'] = rand(cout)
    cases.append((f'conv_random_{i}', 'Conv', {'x': [int(rng.integers(1, 3)), cin, h, w]},
                  {'strides': stride, 'pads': pads, 'dilations': dil, 'group': group}, consts))
    op = 'MaxPool' if i % 2 else 'AveragePool'
    attrs = {'kernel_shape': k, 'strides': stride, 'pads': pads}
    if op == 'AveragePool':
      attrs['count_include_pad'] = int(rng.integers(0, 2))
    cases.append((f'{op.lower()}_random_{i}', op, {'x': [1, cin, k[0] + int(rng.integers(0, 9)), k[1] + int(rng.integers(0, 9))]},
                  attrs, {}))
  return cases


RANDOM_CASES = random_window_cases(8, seed=99)


@pytest.mark.parametrize('backend', RUNTIME_BACKENDS)
@pytest.mark.parametrize('case', RANDOM_CASES, ids=[c[0] for c in RANDOM_CASES])
def test_random_window_shapes_match_numpy(case, backend):
  test_op_matches_numpy(case, backend)
