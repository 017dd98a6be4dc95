"""Builds modeld's default model as ONNX, deterministically (fixed seed, no downloads).

Input `img` [1, 12, 64, 128]: the previous and the current model frame, six
planes each (4 luma phases, U, V) of a 256x128 warped camera view, 0..255.
Outputs, all computed from the pixels:
  row_edges     [1, 64]  mean horizontal edge strength of each model-frame row
                         pair (|Sobel-x| of the current luma, 0..~2)
  scene_change  [1, 1]   0..1, ~0 for a still scene, ->1 when the view changes
                         abruptly (mean squared difference to the previous frame)
  features      [1, 8]   a softmax over 8 classes from a small random-weight CNN
                         trunk: stands in for learned predictions and uses the
                         rest of the op set
Usage: default_model.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20260101
H2, W2 = 64, 128


def build():
  rng = np.random.default_rng(SEED)
  inits, nodes = [], []

  def const(name, arr):
    inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
    return name

  def he(shape):
    fan_in = int(np.prod(shape[1:]))
    return rng.standard_normal(shape).astype(np.float32) * np.float32(np.sqrt(2.0 / fan_in))

  def node(op, ins, out, name, **attrs):
    nodes.append(helper.make_node(op, ins, [out], name=name, **attrs))
    return out

  # Pixels 0..255 -> about -1..1.
  x = node('Mul', ['img', const('scale', [1.0 / 128.0])], 'img_scaled', 'normalize_scale')
  x = node('Add', [x, const('offset', [-1.0])], 'img_norm', 'normalize_offset')

  # Row edges: +/- Sobel-x over the current frame's four luma phases, Relu of
  # each sign summed = |gx|, then the mean over each row.
  sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32) / 8.0
  w = np.zeros((2, 12, 3, 3), np.float32)
  for c in range(6, 10):
    w[0, c], w[1, c] = sobel / 4.0, -sobel / 4.0
  # Every other column is enough for a row mean (and halves the work).
  e = node('Conv', [x, const('edge_w', w)], 'edge_signed', 'edge_conv', pads=[1, 1, 1, 1], strides=[1, 2])
  e = node('Relu', [e], 'edge_halves', 'edge_relu')
  e = node('Conv', [e, const('edge_sum_w', np.ones((1, 2, 1, 1)))], 'edge_abs', 'edge_sum')
  e = node('Transpose', [e], 'edge_rows', 'edge_rows_first', perm=[0, 2, 1, 3])
  e = node('GlobalAveragePool', [e], 'edge_row_mean', 'edge_row_mean')
  node('Reshape', [e, 'row_edges_shape'], 'row_edges', 'row_edges')
  inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), 'row_edges_shape'))

  # Scene change: current minus previous per plane on every other pixel of
  # every other row, squared, averaged.
  w = np.zeros((6, 12, 1, 1), np.float32)
  for c in range(6):
    w[c, c + 6], w[c, c] = 1.0, -1.0
  d = node('Conv', [x, const('diff_w', w)], 'frame_diff', 'frame_diff', strides=[2, 2])
  d = node('Mul', [d, d], 'frame_diff_sq', 'frame_diff_sq')
  d = node('AveragePool', [d], 'frame_diff_pooled', 'frame_diff_pool', kernel_shape=[2, 2], strides=[2, 2])
  d = node('GlobalAveragePool', [d], 'frame_mse', 'frame_mse')
  d = node('Flatten', [d], 'frame_mse_flat', 'frame_mse_flat')
  plane_weight = np.array([[10.0], [10.0], [10.0], [10.0], [5.0], [5.0]], np.float32)  # luma counts most
  d = node('Gemm', [d, const('scene_w', plane_weight), const('scene_b', [-4.0])], 'scene_logit', 'scene_logit')
  node('Sigmoid', [d], 'scene_change', 'scene_change')

  # Feature trunk.
  t = node('Conv', [x, const('c1_w', he((16, 12, 3, 3))), const('c1_b', np.zeros(16))], 'c1', 'conv1',
           strides=[2, 2], pads=[1, 1, 1, 1])
  t = node('Relu', [t], 'c1_act', 'conv1_relu')
  t = node('Conv', [t, const('c2_w', he((32, 16, 3, 3))), const('c2_b', rng.standard_normal(32) * 0.05)], 'c2',
           'conv2', strides=[2, 2], pads=[1, 1, 1, 1])
  t = node('LeakyRelu', [t], 'c2_act', 'conv2_leaky', alpha=0.1)
  u = node('Conv', [t, const('dw_w', he((32, 1, 3, 3)))], 'dw', 'depthwise', group=32, pads=[2, 2, 2, 2],
           dilations=[2, 2])
  u = node('Elu', [u], 'dw_act', 'depthwise_elu', alpha=1.0)
  u = node('Conv', [u, const('pw_w', he((32, 32, 1, 1))), const('pw_b', np.zeros(32))], 'pw', 'pointwise')
  t = node('Add', [t, u], 'res', 'residual')
  t = node('MaxPool', [t], 'pooled', 'maxpool', kernel_shape=[2, 2], strides=[2, 2])
  t = node('Tanh', [t], 'pooled_act', 'pooled_tanh')
  t = node('GlobalAveragePool', [t], 'gap', 'gap')
  t = node('Flatten', [t], 'embedding', 'embedding')
  t = node('Concat', [t, 'frame_mse_flat'], 'embedding_motion', 'embedding_motion', axis=1)
  t = node('Gemm', [t, const('fc_w', he((32, 38))), const('fc_b', rng.standard_normal(32) * 0.05)], 'fc', 'fc',
           transB=1)
  t = node('Relu', [t], 'fc_act', 'fc_relu')
  t = node('MatMul', [t, const('head_w', he((32, 8)))], 'logits', 'head')
  node('Softmax', [t], 'features', 'features', axis=1)

  graph = helper.make_graph(
      nodes, 'modeld_default',
      [helper.make_tensor_value_info('img', TensorProto.FLOAT, [1, 12, H2, W2])],
      [helper.make_tensor_value_info('row_edges', TensorProto.FLOAT, [1, H2]),
       helper.make_tensor_value_info('scene_change', TensorProto.FLOAT, [1, 1]),
       helper.make_tensor_value_info('features', TensorProto.FLOAT, [1, 8])],
      inits)
  model = helper.make_model(graph, producer_name='modeld/models/default_model.py',
                            opset_imports=[helper.make_opsetid('', 13)])
  model.ir_version = 7
  onnx.checker.check_model(model)
  return model


if __name__ == '__main__':
  if len(sys.argv) != 2:
    sys.exit(__doc__)
  onnx.save(build(), sys.argv[1])
