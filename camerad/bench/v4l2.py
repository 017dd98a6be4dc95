"""V4L2 benchmark: camerad's dmabuf path (the driver's buffers served in place)
against its copy path (each frame written once into VisionIPC buffers), on the
vivid virtual camera in a QEMU guest (selfdrive_tests/vm/guest.py), 1920x1080
NV12. Both run in the same boot, alternating, REPEATS times each; medians.

TCG emulates the guest's CPU, so absolute figures are inflated many times;
only the ratios mean anything.

  cpu_ms_per_frame      camerad's CPU time (every thread, scheduler run time)
                        between a client's first and last frame, per frame sent
  frame_copies          frames the CPU wrote into VisionIPC buffers, per frame sent
  sof_to_client_p50_us  median from camerad's dequeue of a frame to the client
                        holding it (vivid stamps buffers with nominal frame
                        times, not when they were filled, so its start-of-frame
                        cannot be the start)
  cpu_ratio             dmabuf over copy cpu_ms_per_frame (target <= 1/3)
"""
import os
import re
import statistics

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CASE = 'vivid_1920x1080_nv12'
REPEATS = int(os.environ.get('V4L2_BENCH_REPEATS', '3'))
FRAMES = 40

SCRIPT = r'''
cd /tmp
export CONDUIT_PREFIX=bench
run() {
  /conduit/camerad --source v4l2:/dev/video0 --cameras road --size 1920x1080 --fps 30 --pixel-format nv12 \
    --v4l2-path $1 > /tmp/cam.log 2>&1 & CAM=$!
  /conduit/v4l2_guest_client check %(frames)d $CAM > /tmp/c.out 2>&1
  kill $CAM; wait $CAM
  sed "s/^/@$1.$2 /" /tmp/c.out
  sed "s/^/CAMLOG $1.$2 /" /tmp/cam.log
}
for i in $(seq %(repeats)d); do run dmabuf $i; run copy $i; done
'''


def _parse(console, impl, i):
  check = [ln for ln in console.splitlines() if ln.startswith(f'@{impl}.{i} CHECK ')]
  log = [ln for ln in console.splitlines() if ln.startswith(f'CAMLOG {impl}.{i} ')]
  m = re.search(r'road: (\d+) frames sent, \d+ dropped, (\d+) copied \(path (\w+)\)', '\n'.join(log))
  if not check or not m or m.group(3) != impl:
    raise RuntimeError(f'{impl} run {i} in the guest failed:\n' + '\n'.join(check + log))
  f = dict(kv.split('=', 1) for kv in check[0].split() if '=' in kv)
  if f['bad'] != '0':
    raise RuntimeError(f'{impl} run {i}: wrong pixels: {check[0]}')
  return {'cpu_ms_per_frame': float(f['cpu_ms_per_frame']), 'frame_copies': int(m.group(2)) / int(m.group(1)),
          'sof_to_client_p50_us': float(f['p50_us'])}


def run():
  import sys
  sys.path.insert(0, ROOT)
  from selfdrive_tests.vm import guest
  why = guest.unavailable()
  if why:
    raise RuntimeError(f'v4l2 bench needs a QEMU guest: {why}')
  console = guest.boot([os.path.join(ROOT, 'build', 'bin', p) for p in ('camerad', 'v4l2_guest_client')],
                       SCRIPT % {'frames': FRAMES, 'repeats': REPEATS}, timeout=900, memory_mb=1024)
  units = {'cpu_ms_per_frame': 'ms', 'frame_copies': 'copies/frame', 'sof_to_client_p50_us': 'us'}
  rows, med = [], {}
  for impl in ('dmabuf', 'copy'):
    runs = [_parse(console, impl, i) for i in range(1, REPEATS + 1)]
    for metric, unit in units.items():
      med[impl, metric] = statistics.median(r[metric] for r in runs)
      rows.append({'bench': 'v4l2', 'impl': impl, 'case': CASE, 'metric': metric, 'value': med[impl, metric],
                   'unit': unit})
  rows.append({'bench': 'v4l2', 'impl': 'dmabuf_vs_copy', 'case': CASE, 'metric': 'cpu_ratio',
               'value': med['dmabuf', 'cpu_ms_per_frame'] / med['copy', 'cpu_ms_per_frame'], 'unit': 'x'})
  return rows
