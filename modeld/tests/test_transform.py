"""The frame transform: the OpenCL and CUDA kernels against the C++ reference
(within 1 LSB) on synthetic frames with identity, shift and perspective
matrices; the reference against exact expectations; in-place reading."""
import mmap
import os

import numpy as np
import pytest

from modeld import _modeld
from modeld.tests.helpers import backend_or_skip, synthetic_nv12

W, H = 1928, 1208          # the camera frame
MW, MH = 256, 128          # the model frame


def shift(dx, dy):
  return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def perspective():
  # A road-like view: the top of the model frame looks far away (compressed), the bottom near.
  m = _modeld.default_warp(W, H, MW, MH) @ np.array([[1.0, 0.15, -10], [0.02, 1.1, -5], [0.0, 0.0015, 1.0]])
  return m


MATRICES = {
    'identity': np.eye(3),
    'shift': shift(37.5, 12.25),
    'default_scale': _modeld.default_warp(W, H, MW, MH),
    'perspective': perspective(),
    'far_outside': shift(5000, -3000),
}


def planes_ref(frame, stride, uv_offset, matrix, width=W, height=H, mw=MW, mh=MH):
  return _modeld.Transform('cpu', mw, mh).run(frame, width, height, stride, uv_offset, matrix)


@pytest.mark.parametrize('backend', ['opencl', 'cuda'])
@pytest.mark.parametrize('name', list(MATRICES))
def test_backend_matches_reference(backend, name):
  backend_or_skip(pytest, backend)
  frame, stride, uv_offset = synthetic_nv12(W, H, stride=2048, uv_pad=4096)
  want = planes_ref(frame, stride, uv_offset, MATRICES[name])
  got = _modeld.Transform(backend, MW, MH).run(frame, W, H, stride, uv_offset, MATRICES[name])
  diff = np.abs(got - want)
  assert diff.max() <= 1.0, f'max difference {diff.max()} LSB'
  assert np.mean(diff > 0) < 0.01, 'more than 1% of the pixels differ by 1 LSB'
  assert np.all(got == np.round(got)) and got.min() >= 0 and got.max() <= 255


def test_reference_identity_is_exact():
  """With the identity and a model frame as large as the camera frame, the six
  planes are exactly the luma phases and the chroma planes."""
  w, h = 64, 32
  frame, stride, uv_offset = synthetic_nv12(w, h, stride=80, uv_pad=16)
  out = planes_ref(frame, stride, uv_offset, np.eye(3), w, h, w, h)
  luma = frame[:stride * h].reshape(h, stride)[:, :w].astype(np.float32)
  uv = frame[uv_offset:uv_offset + stride * h // 2].reshape(h // 2, stride)[:, :w]
  np.testing.assert_array_equal(out[0], luma[0::2, 0::2])
  np.testing.assert_array_equal(out[1], luma[0::2, 1::2])
  np.testing.assert_array_equal(out[2], luma[1::2, 0::2])
  np.testing.assert_array_equal(out[3], luma[1::2, 1::2])
  np.testing.assert_array_equal(out[4], uv[:, 0::2])
  np.testing.assert_array_equal(out[5], uv[:, 1::2])


def test_reference_integer_shift_and_edges():
  """A shift by (+4, +2) luma pixels reads 4 columns right and 2 rows down;
  past the border the edge pixel repeats."""
  w, h = 64, 32
  frame, stride, uv_offset = synthetic_nv12(w, h)
  out = planes_ref(frame, stride, uv_offset, shift(4, 2), w, h, w, h)
  luma = frame[:w * h].reshape(h, w).astype(np.float32)
  padded = np.pad(luma, ((0, 2), (0, 4)), mode='edge')[2:, 4:]
  np.testing.assert_array_equal(out[0], padded[0::2, 0::2])
  np.testing.assert_array_equal(out[3], padded[1::2, 1::2])
  uv = frame[uv_offset:].reshape(h // 2, w)
  u = np.pad(uv[:, 0::2], ((0, 1), (0, 2)), mode='edge')[1:, 2:]
  np.testing.assert_array_equal(out[4], u)


def test_reference_half_pixel_is_bilinear():
  w, h = 16, 8
  frame, stride, uv_offset = synthetic_nv12(w, h)
  out = planes_ref(frame, stride, uv_offset, shift(0.5, 0), w, h, w, h)
  luma = frame[:w * h].reshape(h, w).astype(np.float64)
  want = np.floor((luma[0::2, 0:14:2] + luma[0::2, 1:15:2]) / 2 + 0.5)
  np.testing.assert_array_equal(out[0][:, :7], want)


@pytest.mark.parametrize('backend', ['cpu', 'opencl', 'cuda'])
def test_reads_frame_in_place_after_it_changes(backend):
  """The frame memory is a memfd mapping reused for the next frame (as a
  VisionIPC buffer is): the second run must see the new pixels, not a copy
  cached by the driver."""
  backend_or_skip(pytest, backend)
  w, h = 320, 240
  size = w * h * 3 // 2
  fd = os.memfd_create('modeld_test_frame')
  try:
    os.ftruncate(fd, size)
    mem = mmap.mmap(fd, size)
    frame = np.frombuffer(mem, np.uint8)
    t = _modeld.Transform(backend, 64, 32)
    m = _modeld.default_warp(w, h, 64, 32)
    frame[:] = synthetic_nv12(w, h, seed=1)[0]
    first = t.run(frame, w, h, w, w * h, m)
    frame[:] = synthetic_nv12(w, h, seed=2)[0]
    frame[: w * h] = 255 - frame[: w * h]
    second = t.run(frame, w, h, w, w * h, m)
    want = planes_ref(frame, w, w * h, m, w, h, 64, 32)
    assert np.abs(second - want).max() <= 1
    assert np.abs(second - first)[:4].mean() > 50
    del frame
    mem.close()
  finally:
    os.close(fd)


@pytest.mark.parametrize('backend', ['cpu', 'opencl'])
def test_copy_path_gives_the_same_planes(backend):
  backend_or_skip(pytest, backend)
  frame, stride, uv_offset = synthetic_nv12(W, H)
  t = _modeld.Transform(backend, MW, MH)
  a = t.run(frame, W, H, stride, uv_offset, MATRICES['perspective'])
  b = t.run(frame, W, H, stride, uv_offset, MATRICES['perspective'], copy_frame=True)
  np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('backend', ['cpu', 'opencl', 'cuda'])
def test_i420_and_nv12_give_the_same_planes(backend):
  """The kernels read chroma through (offset, row stride, pixel step): the same
  picture as NV12 and as I420 with padded rows warps to the same model frame."""
  backend_or_skip(pytest, backend)
  frame, stride, uv_offset = synthetic_nv12(W, H, stride=2048, uv_pad=4096)
  uv = frame[uv_offset:uv_offset + stride * H // 2].reshape(H // 2, stride)[:, :W]
  uv_stride = 1024
  u_offset = stride * H + 512
  v_offset = u_offset + uv_stride * H // 2 + 256
  planar = np.zeros(v_offset + uv_stride * H // 2, np.uint8)
  planar[:stride * H] = frame[:stride * H]
  planar[u_offset:u_offset + uv_stride * H // 2].reshape(H // 2, uv_stride)[:, :W // 2] = uv[:, 0::2]
  planar[v_offset:v_offset + uv_stride * H // 2].reshape(H // 2, uv_stride)[:, :W // 2] = uv[:, 1::2]
  t = _modeld.Transform(backend, MW, MH)
  m = MATRICES['perspective']
  nv12 = t.run(frame, W, H, stride, uv_offset, m)
  i420 = t.run(planar, W, H, stride, u_offset, m, v_offset=v_offset, uv_stride=uv_stride, uv_step=1)
  np.testing.assert_array_equal(i420, nv12)
  assert not np.array_equal(nv12[4], nv12[5]), 'U and V differ, so a mix-up would show'


@pytest.mark.parametrize('kwargs, message', [
    (dict(width=W + 1), 'even width and height'),
    (dict(stride=W - 2), 'stride >= width'),
    (dict(uv_offset=100), 'chroma planes after the luma rows'),
    (dict(height=H * 2, uv_offset=W * H * 2), 'the nv12 layout needs'),
])
def test_bad_frame_is_a_clear_error(kwargs, message):
  frame, stride, uv_offset = synthetic_nv12(W, H)
  args = dict(width=W, height=H, stride=stride, uv_offset=uv_offset)
  args.update(kwargs)
  with pytest.raises(ValueError, match=message):
    _modeld.Transform('cpu', MW, MH).run(frame, args['width'], args['height'], args['stride'], args['uv_offset'], np.eye(3))


def test_odd_model_size_is_rejected():
  with pytest.raises(ValueError, match='even width and height'):
    _modeld.Transform('cpu', 255, 128)
