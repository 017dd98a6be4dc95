"""numpy reference of every op modeld runs, evaluated straight from the ONNX
graph (float64), independent of compile_model and of the runtime. Tests
compare the runtime's backends against run_onnx()."""
import numpy as np
import onnx
from onnx import numpy_helper


def conv(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1):
  n, c, h, wd = x.shape
  m, cg, kh, kw = w.shape
  sh, sw = strides
  dh, dw = dilations
  xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
  oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
  ow = (wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
  out = np.zeros((n, m, oh, ow))
  mg = m // group
  for g in range(group):
    xg, wg = xp[:, g * cg:(g + 1) * cg], w[g * mg:(g + 1) * mg]
    for ky in range(kh):
      for kx in range(kw):
        patch = xg[:, :, ky * dh:ky * dh + sh * (oh - 1) + 1:sh, kx * dw:kx * dw + sw * (ow - 1) + 1:sw]
        out[:, g * mg:(g + 1) * mg] += np.einsum('ncij,mc->nmij', patch, wg[:, :, ky, kx])
  if b is not None:
    out += b.reshape(1, -1, 1, 1)
  return out


def pool(x, kernel, strides=(1, 1), pads=(0, 0, 0, 0), mode='max', count_include_pad=False):
  n, c, h, w = x.shape
  kh, kw = kernel
  sh, sw = strides
  oh = (h + pads[0] + pads[2] - kh) // sh + 1
  ow = (w + pads[1] + pads[3] - kw) // sw + 1
  fill = -np.inf if mode == 'max' else 0.0
  xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill)
  inside = np.pad(np.ones((h, w)), ((pads[0], pads[2]), (pads[1], pads[3])))
  out = np.full((n, c, oh, ow), fill)
  count = np.zeros((oh, ow))
  for ky in range(kh):
    for kx in range(kw):
      patch = xp[:, :, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
      out = np.maximum(out, patch) if mode == 'max' else out + patch
      count += inside[ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
  if mode == 'avg':
    out = out / (kh * kw if count_include_pad else count)
  return out


def gemm(a, b, c=None, alpha=1.0, beta=1.0, trans_a=0, trans_b=0):
  y = alpha * (a.T if trans_a else a) @ (b.T if trans_b else b)
  return y + beta * c if c is not None else y


def reshape(x, shape):
  shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
  return x.reshape(shape)


def softmax(x, axis):
  e = np.exp(x - x.max(axis=axis, keepdims=True))
  return e / e.sum(axis=axis, keepdims=True)


def _same_pads(x_shape, kernel, strides, dilations, mode):
  pads = [0, 0, 0, 0]
  for d in range(2):
    size = x_shape[2 + d]
    out = -(-size // strides[d])
    total = max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size)
    small, big = total // 2, total - total // 2
    pads[d], pads[d + 2] = (small, big) if mode == 'SAME_UPPER' else (big, small)
  return pads


def _pads(a, x_shape, kernel, strides, dilations):
  auto = a.get('auto_pad', b'NOTSET')
  auto = auto.decode() if isinstance(auto, bytes) else auto
  if auto in ('SAME_UPPER', 'SAME_LOWER'):
    return _same_pads(x_shape, kernel, strides, dilations, auto)
  if auto == 'VALID':
    return [0, 0, 0, 0]
  return list(a.get('pads', [0, 0, 0, 0]))


def run_node(node, ins, opset=13):
  a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
  op = node.op_type
  x = ins[0] if ins else None
  if op == 'Conv':
    w = ins[1]
    strides, dil = a.get('strides', [1, 1]), a.get('dilations', [1, 1])
    return conv(x, w, ins[2] if len(ins) > 2 else None, strides, _pads(a, x.shape, w.shape[2:], strides, dil), dil,
                a.get('group', 1))
  if op == 'Relu':
    return np.maximum(x, 0)
  if op == 'LeakyRelu':
    return np.where(x >= 0, x, a.get('alpha', 0.01) * x)
  if op == 'Sigmoid':
    return 1 / (1 + np.exp(-x))
  if op == 'Tanh':
    return np.tanh(x)
  if op == 'Elu':
    return np.where(x >= 0, x, a.get('alpha', 1.0) * (np.exp(x) - 1))
  if op == 'Add':
    return ins[0] + ins[1]
  if op == 'Mul':
    return ins[0] * ins[1]
  if op == 'Concat':
    return np.concatenate(ins, axis=a['axis'])
  if op in ('MaxPool', 'AveragePool'):
    k, s = a['kernel_shape'], a.get('strides', [1, 1])
    return pool(x, k, s, _pads(a, x.shape, k, s, [1, 1]), 'max' if op == 'MaxPool' else 'avg',
                bool(a.get('count_include_pad', 0)))
  if op == 'GlobalAveragePool':
    return x.mean(axis=(2, 3), keepdims=True)
  if op == 'Gemm':
    return gemm(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a.get('alpha', 1.0), a.get('beta', 1.0),
                a.get('transA', 0), a.get('transB', 0))
  if op == 'MatMul':
    return np.matmul(ins[0], ins[1])
  if op == 'Reshape':
    return reshape(x, [int(d) for d in ins[1]])
  if op == 'Flatten':
    axis = a.get('axis', 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), -1)
  if op == 'Transpose':
    return np.transpose(x, a.get('perm'))
  if op == 'Softmax':
    return softmax(x, a.get('axis', -1 if opset >= 13 else 1))
  if op == 'Identity':
    return x
  if op == 'Constant':
    return numpy_helper.to_array(a['value'])
  raise ValueError(f'node {node.name or node.output[0]}: op {op} is not one modeld runs, so it has no reference')


def run_onnx(model, inputs):
  """Evaluates an ONNX model (proto or path) on {name: array}; returns {output name: float64 array}."""
  if not isinstance(model, onnx.ModelProto):
    model = onnx.load(model)
  opset = next((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), 13)
  env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
  env = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in env.items()}
  env.update({k: np.asarray(v, np.float64) for k, v in inputs.items()})
  for node in model.graph.node:
    env[node.output[0]] = run_node(node, [env[i] if i else None for i in node.input if i], opset)
  return {o.name: env[o.name] for o in model.graph.output}
