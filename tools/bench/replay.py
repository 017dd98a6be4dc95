"""Benchmark `replay`: throughput in --fast mode (messages/s, frames/s and the
real-time factor for 1928x1208 H.265 decode + VisionIPC serve of one road stream
with all its messages) and seek latency (seek to the target frame arriving at a
VisionIPC client, p50/p90, each checked to be the frame logged at the target).

The peer is libavcodec alone on the same files (decode + NV12 convert, nothing
served, no messages): the floor replay's own work is measured against.
The route is the synthetic fixture (tools/replay/fixture_route.h) at camera
resolution, 2 segments x 3 s, GOP 20 like encoderd, written once per run."""
import json
import os
import shutil
import statistics
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin')
FPS, FRAMES, SEGMENTS = 20, 60, 2
RUNS, SEEKS = 3, 15


def _row(impl, case, metric, value, unit):
  return {'bench': 'replay', 'impl': impl, 'case': case, 'metric': metric, 'value': value, 'unit': unit}


def _run(args, prefix):
  env = dict(os.environ, CONDUIT_PREFIX=prefix)
  try:
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
                          timeout=300).stdout
  finally:
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)


def run():
  tmp = tempfile.mkdtemp(prefix='replay_bench_')
  prefix = f'replaybench_{os.getpid()}'
  try:
    subprocess.run([os.path.join(BIN, 'replay_fixture'), '--dir', tmp, '--size', '1928x1208', '--frames', str(FRAMES),
                    '--segments', str(SEGMENTS), '--gop', '20', '--crf', '24'], check=True, capture_output=True)
    route = os.path.join(tmp, 'fixture')
    route_s = SEGMENTS * FRAMES / FPS
    rows = []

    decode_rt, decode_fps = [], []
    for _ in range(RUNS):
      secs = frames = 0
      for s in range(SEGMENTS):
        d = json.loads(_run([os.path.join(BIN, 'replay_bench'), 'decode', f'{route}--{s}/fcamera.hevc'], prefix))
        secs += d['seconds']
        frames += d['frames']
      decode_rt.append(frames / FPS / secs)
      decode_fps.append(frames / secs)

    rt, msgs, fps = [], [], []
    for _ in range(RUNS):
      out = _run([os.path.join(BIN, 'replay'), '--fast', route], prefix)
      line = next(ln for ln in out.splitlines() if ln.startswith('replay: finished:'))
      st = dict(kv.split('=') for kv in line.split(': ', 2)[2].split())
      wall = float(st['wall_s'])
      rt.append(route_s / wall)
      msgs.append(int(st['messages']) / wall)
      fps.append(int(st['frames']) / wall)
    rows += [
      _row('replay', 'fast', 'msgs_per_s', statistics.median(msgs), 'msg/s'),
      _row('replay', 'fast', 'frames_per_s', statistics.median(fps), 'frame/s'),
      _row('replay', 'fast', 'realtime_factor', statistics.median(rt), 'x'),
      _row('libavcodec_decode_only', 'fast', 'frames_per_s', statistics.median(decode_fps), 'frame/s'),
      _row('libavcodec_decode_only', 'fast', 'realtime_factor', statistics.median(decode_rt), 'x'),
    ]

    out = _run([os.path.join(BIN, 'replay_bench'), 'seek', route, str(SEEKS), '7'], prefix)
    seeks = [json.loads(ln) for ln in out.splitlines()]
    lat = sorted(s['latency_ms'] for s in seeks)
    rows += [
      _row('replay', 'seek', 'p50_ms', statistics.median(lat), 'ms'),
      _row('replay', 'seek', 'p90_ms', lat[int(0.9 * (len(lat) - 1))], 'ms'),
      _row('replay', 'seek', 'right_frame', sum(s['frame_id'] == s['expected'] for s in seeks) / len(seeks), 'fraction'),
    ]
    return rows
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
