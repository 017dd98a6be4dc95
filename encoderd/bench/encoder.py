"""Benchmark `encoder`: the camera -> encoder path of camerad/encoderd.

Runs build/bin/encoder_bench (camerad's synthetic frames rendered into a
VisionIPC buffer -> VideoEncoder) and reports medians of interleaved repeats:

  hevc_road 1928x1208  I420 buffers, the layout the pipeline runs (manager/
                       process_config.py): fps (unthrottled); cores = CPU seconds
                       per frame x 20 in a run paced at 20 fps (what 20 fps costs,
                       even when a loaded machine lets it reach fewer: paced_fps
                       says how many); cpu_ms_per_frame; frame_copies
  hevc_road_nv12       the same encoder from NV12 buffers (camerad's own default):
                       cores and frame_copies, for comparison
  hevc_road_copy_input the peer: the naive path that copies every frame out of
                       the shared buffer first (same encoder), cores and frame_copies
  h264_qcam 526x330    cores at 20 fps (scaled from I420 buffers)
  camerad pacing       jitter_p50_us, jitter_p99_us (wake-up lateness against the
                       absolute deadline, 2 streams rendered per tick), drift_ms;
  camerad_rt           the same with camerad --rt-priority (SCHED_FIFO), if permitted
  relative_sleep       the peer: sleeping one period after the work, drift_ms

CPU is getrusage of the bench process (all codec threads) minus the time spent
rendering the synthetic frames. frame_copies counts the bytes of frame data
copied between the VisionIPC buffer and the codec's input (what VideoEncoder's
copy loops wrote, plus the peer's memcpy), divided by the frame size. libx265
takes only planar yuv420p: I420 planes are lent as they are (0); from NV12 the Y
plane is lent and U/V are split out (1/3 of the bytes). x265's own import of the
picture into its internal frame is inside the encoder and not counted.
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
  samples = {}

  def add(key, value):
    samples.setdefault(key, []).append(value)

  frames = '100'  # 5 s at 20 fps: five GOPs, so the codec's end-of-run flush weighs little
  i420 = ('--pixel-format', 'yuv420p')
  for _ in range(REPEATS):
    add('fps', _run(*i420, '--frames', frames)['fps'])
    r = _run(*i420, '--frames', frames, '--fps', '20')
    add('cpu_ms', r['cpu_s_per_frame'] * 1e3)
    add('paced_fps', r['fps'])
    add('copies', r['frame_copies'])
    r = _run('--pixel-format', 'nv12', '--frames', frames, '--fps', '20')
    add('nv12_cpu_ms', r['cpu_s_per_frame'] * 1e3)
    add('nv12_copies', r['frame_copies'])
    r = _run(*i420, '--frames', frames, '--fps', '20', '--copy-input')
    add('copy_cpu_ms', r['cpu_s_per_frame'] * 1e3)
    add('copy_copies', r['frame_copies'])
    add('copy_ms', r['copy_ms_per_frame'])
    r = _run(*i420, '--codec', 'libx264', '--out', '526x330', '--bitrate', '256000', '--frames', '40', '--fps', '20')
    add('qcam_cpu_ms', r['cpu_s_per_frame'] * 1e3)
  r = _run('--pacing', '--frames', '200', '--streams', '2')
  add('p50', r['jitter_p50_us'])
  add('p99', r['jitter_p99_us'])
  add('drift', r['drift_ms'])
  try:
    r = _run('--pacing', '--rt', '--frames', '200', '--streams', '2')
    add('rt_p50', r['jitter_p50_us'])
    add('rt_p99', r['jitter_p99_us'])
  except subprocess.CalledProcessError:
    pass  # SCHED_FIFO not permitted here: no rt rows
  add('rel_drift', _run('--pacing', '--relative', '--frames', '60', '--streams', '2')['drift_ms'])
  m = {k: statistics.median(v) for k, v in samples.items()}
  rows = [
    _row('hevc_road', '1928x1208', 'fps', m['fps'], 'frames/s'),
    _row('hevc_road', '1928x1208', 'cores', m['cpu_ms'] * 20 / 1e3, 'cores at 20 fps'),
    _row('hevc_road', '1928x1208', 'cpu_ms_per_frame', m['cpu_ms'], 'ms'),
    _row('hevc_road', '1928x1208', 'paced_fps', m['paced_fps'], 'frames/s (asked 20)'),
    _row('hevc_road', '1928x1208', 'frame_copies', m['copies'], 'frames/frame'),
    _row('hevc_road_nv12', '1928x1208', 'cores', m['nv12_cpu_ms'] * 20 / 1e3, 'cores at 20 fps'),
    _row('hevc_road_nv12', '1928x1208', 'frame_copies', m['nv12_copies'], 'frames/frame'),
    _row('hevc_road_copy_input', '1928x1208', 'cores', m['copy_cpu_ms'] * 20 / 1e3, 'cores at 20 fps'),
    _row('hevc_road_copy_input', '1928x1208', 'frame_copies', m['copy_copies'], 'frames/frame'),
    _row('hevc_road_copy_input', '1928x1208', 'copy_ms_per_frame', m['copy_ms'], 'ms (the memcpy alone)'),
    _row('h264_qcam', '526x330', 'cores', m['qcam_cpu_ms'] * 20 / 1e3, 'cores at 20 fps'),
    _row('camerad', 'pacing', 'jitter_p50_us', m['p50'], 'us'),
    _row('camerad', 'pacing', 'jitter_p99_us', m['p99'], 'us'),
    _row('camerad', 'pacing', 'drift_ms', m['drift'], 'ms after 10 s'),
  ]
  if 'rt_p50' in m:
    rows += [_row('camerad_rt', 'pacing', 'jitter_p50_us', m['rt_p50'], 'us'),
             _row('camerad_rt', 'pacing', 'jitter_p99_us', m['rt_p99'], 'us')]
  rows.append(_row('relative_sleep', 'pacing', 'drift_ms', m['rel_drift'], 'ms after 3 s'))
  return rows
