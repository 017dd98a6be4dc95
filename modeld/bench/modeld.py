"""tools/bench/run modeld: per-frame latency of modeld's default model.

impl opencl    frame read in place from the VisionIPC buffer (cl_mem over it), transform + model on OpenCL
impl cpu       the C++ reference backend, frame read in place
impl cuda      when a CUDA device exists
impl copy_path the copy-based path for comparison: frame copied out of the VisionIPC buffer into
               device memory, then transformed (OpenCL)

Frames: 1928x1208 NV12 through a VisionIPC server/client in this process (4
buffers, conflated client), the camera's write of each frame untimed.
Implementations run in interleaved rounds so load from other processes hits
all of them alike. Reports p50 of transform, inference and total, p99 of
total, and the in-place transform's speedup over the copy path.
"""
import os

import numpy as np

from common.testing.prefix import scoped_prefix
from modeld import _modeld
from modeld.tests.helpers import DEFAULT_MODEL, synthetic_nv12

W, H = 1928, 1208
ROUNDS = 4
FRAMES_PER_ROUND = 20
WARMUP = 5


def run():
  from visionipc import VISION_STREAM_ROAD, VisionIpcClient, VisionIpcServer

  impls = [('opencl', 'opencl', False), ('cpu', 'cpu', False), ('copy_path', 'opencl', True)]
  if not _modeld.unavailable_reason('cuda'):
    impls.insert(0, ('cuda', 'cuda', False))
  with scoped_prefix(f'bench_modeld_{os.getpid()}'):
    server = VisionIpcServer('modeld_bench')
    server.create_buffers(VISION_STREAM_ROAD, 4, W, H)
    server.start_listener()
    client = VisionIpcClient('modeld_bench', VISION_STREAM_ROAD, True)
    if not client.connect(True):
      raise RuntimeError('bench: cannot connect to the VisionIPC server')
    frames = [synthetic_nv12(W, H, seed=100 + i)[0] for i in range(4)]
    matrix = _modeld.default_warp(W, H, 256, 128)
    pipelines = {name: _modeld.Pipeline(backend, DEFAULT_MODEL, copy) for name, backend, copy in impls}
    times = {name: [] for name in pipelines}
    frame_id = 0

    def one_frame(p):
      nonlocal frame_id
      frame_id += 1
      if not server.send(VISION_STREAM_ROAD, frames[frame_id % 4], frame_id=frame_id):
        raise RuntimeError('bench: every VisionIPC buffer is held')
      buf = client.recv(1000)
      if buf is None:
        raise RuntimeError(f'bench: frame {frame_id} did not arrive')
      t = p.process(buf.data, W, H, buf.stride, buf.u_offset, matrix, v_offset=buf.v_offset, uv_stride=buf.uv_stride,
                    uv_step=buf.uv_step)
      client.release()
      return t

    for p in pipelines.values():
      for _ in range(WARMUP):
        one_frame(p)
    for _ in range(ROUNDS):
      for name, p in pipelines.items():
        times[name] += [one_frame(p) for _ in range(FRAMES_PER_ROUND)]
    client = server = None  # the client goes first

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
