"""tools/bench/run visionipc: frame handoff latency through VisionIPC, libzmq ipc
(bytes copied) and iceoryx (loaned chunks), the msgq 64 B wake-up as reference,
and the VisionIPC producer's cost per frame with 1, 2 and 4 consumers.

The measurements run in build/bin/visionipc_bench (C++, fork()ed processes); this
module runs it case by case, starts and stops its own iox-roudi for the iceoryx
rows, and turns the output into rows. VIPC_BENCH_SAMPLES scales the sample count.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BINARY = os.path.join(ROOT, 'build', 'bin', 'visionipc_bench')
CASES = ('4KiB', '1MiB', '1928x1208')

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
  base = 400 if case == '1928x1208' else 1000
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


class Roudi:
  """An iox-roudi of our own, with mempools big enough for a 1928x1208 NV12 frame."""

  def __init__(self, tmp):
    self.proc = None
    self.why_not = None
    exe = shutil.which('iox-roudi')
    if exe is None:
      self.why_not = 'iox-roudi is not installed'
      return
    other = subprocess.run(['pgrep', '-x', 'iox-roudi'], capture_output=True, text=True).stdout.split()
    if other:
      # iceoryx 2.0 has one fixed shared-memory namespace per machine: a second RouDi would fight the first.
      self.why_not = f'another iox-roudi is running (pid {", ".join(other)}); iceoryx 2.0 allows one per machine'
      return
    cfg = os.path.join(tmp, 'roudi.toml')
    with open(cfg, 'w') as f:
      f.write(ROUDI_CONFIG)
    self.log = os.path.join(tmp, 'roudi.log')
    with open(self.log, 'w') as log:
      self.proc = subprocess.Popen([exe, '-c', cfg, '-l', 'info', '-m', 'off'], stdout=log, stderr=subprocess.STDOUT,
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


def run():
  if not os.path.exists(BINARY):
    raise RuntimeError(f'{BINARY} is missing: build it with `scons -j2 build/bin/visionipc_bench`')
  prefix = f'vipcbench{os.getpid()}'
  env = dict(os.environ, CONDUIT_PREFIX=prefix)
  rows = []
  try:
    with tempfile.TemporaryDirectory(prefix='vipcbench') as tmp:
      for case in CASES:
        for impl in ('visionipc', 'zmq_ipc'):
          rows += run_harness(['latency', impl, case, samples_for(case)], env)
      rows += run_harness(['latency', 'msgq_64B', '64B', samples_for('64B')], env)

      roudi = Roudi(tmp)
      if roudi.why_not:
        note(f'iceoryx rows skipped: {roudi.why_not}')
      else:
        try:
          for case in CASES:
            rows += run_harness(['latency', 'iceoryx', case, samples_for(case)], env)
        finally:
          roudi.stop()

      for clients in (1, 2, 4):
        rows += run_harness(['producer', str(clients), samples_for('4KiB')], env)
  finally:
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)
  return rows
