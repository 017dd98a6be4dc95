"""tools/bench/run visionipc: frame handoff latency through VisionIPC, libzmq ipc
(bytes copied) and iceoryx (loaned chunks), the msgq 64 B wake-up as reference,
and the VisionIPC producer's cost per frame with 1, 2 and 4 consumers.

The measurements run in build/bin/visionipc_bench (C++, fork()ed processes); this
module runs it case by case (VisionIPC's three sizes and msgq interleaved sample
by sample in one run, so the ratios the targets compare see the same load), starts and stops its own iox-roudi for the iceoryx
rows, and turns the output into rows. The machine is shared and noisy, so every case runs in ROUNDS rounds,
interleaved with the others (each round a fresh set of processes), and a row is
the median over the rounds. VIPC_BENCH_SAMPLES scales the samples per round.
"""
import os
import shutil
import statistics
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BINARY = os.path.join(ROOT, 'build', 'bin', 'visionipc_bench')
CASES = ('4KiB', '1MiB', '1928x1208')
ROUNDS = 5

# Chunks for the largest frame (3.5 MB + iceoryx's chunk header) need a 4 MiB pool.
ROUDI_CONFIG = """[general]
version = 1

[[segment]]

[[segment.mempool]]
size = 128
count = 1000

[[segment.mempool]]
size = 8192
count = 64

[[segment.mempool]]
size = 1049600
count = 16

[[segment.mempool]]
size = 3670016
count = 12
"""


def note(msg):
  print(f'visionipc bench: {msg}', file=sys.stderr)


def samples_for(case):
  scale = float(os.environ.get('VIPC_BENCH_SAMPLES', '1'))
  base = 200 if case == '1928x1208' else 400
  return str(max(100, int(base * scale)))


def run_harness(args, env):
  """Runs the harness once; returns its rows (the harness's SKIP lines are noted)."""
  try:
    out = subprocess.run([BINARY] + args, env=env, capture_output=True, text=True, timeout=300)
  except subprocess.TimeoutExpired:
    note(f'{" ".join(args)}: timed out')
    return []
  rows = []
  for line in out.stdout.splitlines():
    parts = line.split()
    if parts[:1] == ['ROW'] and len(parts) == 6:
      rows.append({'bench': 'visionipc', 'impl': parts[1], 'case': parts[2], 'metric': parts[3],
                   'value': float(parts[4]), 'unit': parts[5]})
    elif parts[:1] == ['SKIP']:
      note(f'{" ".join(args)}: {line[5:]}')
  if out.returncode != 0 and not rows:
    note(f'{" ".join(args)} failed (exit {out.returncode}): {out.stderr.strip()[-500:]}')
  return rows


def is_zombie(pid):
  try:
    with open(f'/proc/{pid}/stat') as f:
      return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
  except (OSError, IndexError):
    return True


class Roudi:
  """An iox-roudi of our own, with mempools big enough for a 1928x1208 NV12 frame."""

  def __init__(self, tmp):
    self.proc = None
    self.why_not = None
    exe = shutil.which('iox-roudi')
    if exe is None:
      self.why_not = 'iox-roudi is not installed'
      return
    # iceoryx 2.0 has one fixed shared-memory namespace per machine: wait (a while)
    # for somebody else's RouDi to finish rather than fight it.
    deadline = time.monotonic() + 90
    while True:
      other = [pid for pid in subprocess.run(['pgrep', '-x', 'iox-roudi'], capture_output=True, text=True).stdout.split()
               if not is_zombie(pid)]
      if not other or time.monotonic() > deadline:
        break
      time.sleep(1)
    if other:
      self.why_not = f'another iox-roudi is running (pid {", ".join(other)}); iceoryx 2.0 allows one per machine'
      return
    cfg = os.path.join(tmp, 'roudi.toml')
    with open(cfg, 'w') as f:
      f.write(ROUDI_CONFIG)
    self.log = os.path.join(tmp, 'roudi.log')
    with open(self.log, 'w') as log:
      self.proc = subprocess.Popen([exe, '-c', cfg, '-l', 'info'], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
      if self.proc.poll() is not None:
        break
      with open(self.log) as f:
        if 'RouDi is ready for clients' in f.read():
          return
      time.sleep(0.1)
    with open(self.log) as f:
      tail = f.read().strip().splitlines()[-3:]
    self.why_not = 'iox-roudi did not become ready: ' + ' | '.join(tail)
    self.stop()

  def stop(self):
    if self.proc is None:
      return
    self.proc.send_signal(signal.SIGTERM)
    try:
      self.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
      self.proc.kill()
      self.proc.wait()
    self.proc = None


def median_rows(rows):
  """One row per (impl, case, metric): the median of its rounds, in first-seen order."""
  groups = {}
  for r in rows:
    groups.setdefault((r['impl'], r['case'], r['metric']), []).append(r)
  out = []
  for group in groups.values():
    row = dict(group[0])
    row['value'] = statistics.median(r['value'] for r in group)
    out.append(row)
  return out


def run():
  if not os.path.exists(BINARY):
    raise RuntimeError(f'{BINARY} is missing: build it with `scons -j2 build/bin/visionipc_bench`')
  prefix = f'vipcbench{os.getpid()}'
  env = dict(os.environ, CONDUIT_PREFIX=prefix)
  rows = []
  try:
    with tempfile.TemporaryDirectory(prefix='vipcbench') as tmp:
      roudi = Roudi(tmp)
      if roudi.why_not:
        note(f'iceoryx rows skipped: {roudi.why_not}')
      try:
        for _ in range(ROUNDS):
          # VisionIPC at every size and the msgq reference, interleaved sample by sample.
          rows += run_harness(['vipc_msgq', samples_for('4KiB')], env)
          for impl in ('zmq_ipc',) + (() if roudi.why_not else ('iceoryx',)):
            for case in CASES:
              rows += run_harness(['latency', impl, case, samples_for(case)], env)
          for clients in (1, 2, 4):
            rows += run_harness(['producer', str(clients), samples_for('4KiB')], env)
      finally:
        roudi.stop()
  finally:
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)
  return median_rows(rows)
