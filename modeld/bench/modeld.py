"""tools/bench/run modeld: per-frame latency of modeld's default model.

impl opencl    frame read in place (cl_mem over the frame memory), transform + model on OpenCL
impl cpu       the C++ reference backend, frame read in place
impl cuda      when a CUDA device exists
impl copy_path the copy-based path for comparison: frame copied into device memory, then transformed (OpenCL)

Frames: 1928x1208 NV12 in a pool of memfd buffers (as VisionIPC hands them
out), rotated per frame. Implementations run in interleaved rounds so load
from other processes hits all of them alike. Reports p50 of transform,
inference and total, p99 of total, and the in-place transform's speedup over
the copy path.
"""
import mmap
import os

import numpy as np

from modeld import _modeld
from modeld.tests.helpers import DEFAULT_MODEL, synthetic_nv12

W, H = 1928, 1208
POOL = 4
ROUNDS = 4
FRAMES_PER_ROUND = 20
WARMUP = 5


class FramePool:
  """POOL NV12 frames, each in its own memfd mapping."""

  def __init__(self):
    self.fds, self.maps, self.frames = [], [], []
    for i in range(POOL):
      frame, self.stride, self.uv_offset = synthetic_nv12(W, H, seed=100 + i)
      fd = os.memfd_create(f'modeld_bench_{i}')
      os.ftruncate(fd, frame.size)
      mem = mmap.mmap(fd, frame.size)
      view = np.frombuffer(mem, np.uint8)
      view[:] = frame
      self.fds.append(fd)
      self.maps.append(mem)
      self.frames.append(view)

  def close(self):
    self.frames.clear()
    for m in self.maps:
      m.close()
    for fd in self.fds:
      os.close(fd)


def run():
  impls = [('opencl', 'opencl', False), ('cpu', 'cpu', False), ('copy_path', 'opencl', True)]
  if not _modeld.unavailable_reason('cuda'):
    impls.insert(0, ('cuda', 'cuda', False))
  pool = FramePool()
  try:
    matrix = _modeld.default_warp(W, H, 256, 128)
    pipelines = {name: _modeld.Pipeline(backend, DEFAULT_MODEL, copy) for name, backend, copy in impls}
    times = {name: [] for name in pipelines}
    n = 0
    for name, p in pipelines.items():
      for _ in range(WARMUP):
        p.process(pool.frames[n % POOL], W, H, pool.stride, pool.uv_offset, matrix)
        n += 1
    for _ in range(ROUNDS):
      for name, p in pipelines.items():
        for _ in range(FRAMES_PER_ROUND):
          times[name].append(p.process(pool.frames[n % POOL], W, H, pool.stride, pool.uv_offset, matrix))
          n += 1
  finally:
    pool.close()

  rows = []

  def row(impl, metric, value, unit='ms'):
    rows.append({'bench': 'modeld', 'impl': impl, 'case': 'default_model', 'metric': metric, 'value': float(value),
                 'unit': unit})

  for name, ts in times.items():
    for key in ('transform', 'inference', 'total'):
      row(name, f'{key}_p50_ms', np.median([t[f'{key}_ms'] for t in ts]))
    row(name, 'total_p99_ms', np.percentile([t['total_ms'] for t in ts], 99))
  transform = {name: np.median([t['transform_ms'] for t in ts]) for name, ts in times.items()}
  row('opencl', 'transform_speedup_vs_copy_path', transform['copy_path'] / transform['opencl'], 'x')
  return rows
