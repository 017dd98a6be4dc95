"""Benchmark `encoder`: the camera -> encoder path of camerad/encoderd.

Runs build/bin/encoder_bench (synthetic NV12 frames in a strided buffer, as in
a VisionIPC buffer -> VideoEncoder) and reports medians of interleaved repeats:

  hevc_road 1928x1208  fps (unthrottled), cores (paced at 20 fps), frame_copies
  hevc_road_copy_input the peer: the naive path that copies every frame out of
                       the shared buffer first (same encoder), cores and frame_copies
  h264_qcam 526x330    cores (paced at 20 fps)
  camerad pacing       jitter_p50_us, jitter_p99_us (wake-up lateness against the
                       absolute deadline, 2 streams rendered per tick), drift_ms;
  relative_sleep       the peer: sleeping one period after the work, drift_ms

CPU is getrusage of the bench process (all codec threads) minus the time spent
rendering the synthetic frames. frame_copies counts bytes memcpy'd before the
codec divided by the frame size (libx265 only takes planar yuv420p: the Y plane
is lent in place, U/V are split out of NV12 = 1/3 of the bytes).
"""
import json
import os
import statistics
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin', 'encoder_bench')
REPEATS = 3


def _run(*args):
  out = subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def _row(impl, case, metric, value, unit):
  return {'bench': 'encoder', 'impl': impl, 'case': case, 'metric': metric, 'value': float(value), 'unit': unit}


def run():
  if not os.path.exists(BIN):
    subprocess.run(['scons', '-Q', '-j2', 'build/bin/encoder_bench'], cwd=ROOT, check=True)
  samples = {k: [] for k in ('fps', 'cores', 'copies', 'copy_cores', 'copy_copies', 'qcam', 'p50', 'p99',
                             'drift', 'rel_drift')}
  for _ in range(REPEATS):
    r = _run('--frames', '30')
    samples['fps'].append(r['fps'])
    r = _run('--frames', '40', '--fps', '20')
    samples['cores'].append(r['cores'])
    samples['copies'].append(r['frame_copies'])
    r = _run('--frames', '40', '--fps', '20', '--copy-input')
    samples['copy_cores'].append(r['cores'])
    samples['copy_copies'].append(r['frame_copies'])
    r = _run('--codec', 'libx264', '--out', '526x330', '--bitrate', '256000', '--frames', '40', '--fps', '20')
    samples['qcam'].append(r['cores'])
  r = _run('--pacing', '--frames', '200', '--streams', '2')
  samples['p50'].append(r['jitter_p50_us'])
  samples['p99'].append(r['jitter_p99_us'])
  samples['drift'].append(r['drift_ms'])
  r = _run('--pacing', '--relative', '--frames', '60', '--streams', '2')
  samples['rel_drift'].append(r['drift_ms'])
  m = {k: statistics.median(v) for k, v in samples.items()}
  return [
    _row('hevc_road', '1928x1208', 'fps', m['fps'], 'frames/s'),
    _row('hevc_road', '1928x1208', 'cores', m['cores'], 'cores'),
    _row('hevc_road', '1928x1208', 'frame_copies', m['copies'], 'frames/frame'),
    _row('hevc_road_copy_input', '1928x1208', 'cores', m['copy_cores'], 'cores'),
    _row('hevc_road_copy_input', '1928x1208', 'frame_copies', m['copy_copies'], 'frames/frame'),
    _row('h264_qcam', '526x330', 'cores', m['qcam'], 'cores'),
    _row('camerad', 'pacing', 'jitter_p50_us', m['p50'], 'us'),
    _row('camerad', 'pacing', 'jitter_p99_us', m['p99'], 'us'),
    _row('camerad', 'pacing', 'drift_ms', m['drift'], 'ms after 10 s'),
    _row('relative_sleep', 'pacing', 'drift_ms', m['rel_drift'], 'ms after 3 s'),
  ]
