"""4:2:0 frames (NV12 or I420, any strides: common/yuv420.h) to RGB with numpy,
for looking at frames in Python and saving them as images.

  from visionipc import to_rgb
  rgb = to_rgb(client.recv())          # (height, width, 3) uint8, a copy

BT.601 with limited range (Y 16..235, chroma 16..240), what libx264/libx265
and most video assume by default."""
import numpy as np


def yuv_to_rgb(y, u, v):
  """RGB (h, w, 3) uint8 of a Y plane (h, w) and U, V planes (h/2, w/2), each
  any 2-D uint8 array or view."""
  yf = (np.asarray(y, dtype=np.float32) - 16.0) * (255.0 / 219.0)
  uf = np.repeat(np.repeat(np.asarray(u, dtype=np.float32) - 128.0, 2, axis=0), 2, axis=1)[:yf.shape[0], :yf.shape[1]]
  vf = np.repeat(np.repeat(np.asarray(v, dtype=np.float32) - 128.0, 2, axis=0), 2, axis=1)[:yf.shape[0], :yf.shape[1]]
  uf *= 255.0 / 224.0
  vf *= 255.0 / 224.0
  rgb = np.empty(yf.shape + (3,), dtype=np.float32)
  rgb[..., 0] = yf + 1.402 * vf
  rgb[..., 1] = yf - 0.344136 * uf - 0.714136 * vf
  rgb[..., 2] = yf + 1.772 * uf
  return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def to_rgb(buf):
  """RGB (height, width, 3) uint8 of a VisionBuf, copied out of the shared
  buffer (so it stays valid after the buffer is released)."""
  return yuv_to_rgb(buf.y, buf.u, buf.v)
