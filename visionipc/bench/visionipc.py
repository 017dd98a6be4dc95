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
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from tools.bench.roudi import Roudi  # noqa: E402

BINARY = os.path.join(ROOT, 'build', 'bin', 'visionipc_bench')
CASES = ('4KiB', '1MiB', '1928x1208')
ROUNDS = 5

# Chunks for the largest frame (3.5 MB + iceoryx's chunk header) need a 4 MiB pool.
ROUDI_MEMPOOLS = [(128, 1000), (8192, 64), (1049600, 16), (3670016, 12)]


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
      roudi = Roudi(tmp, ROUDI_MEMPOOLS)
      why_not = None
      try:
        roudi.start(wait_for_other_s=90)
      except RuntimeError as e:
        why_not = str(e)
        note(f'iceoryx rows skipped: {why_not}')
      try:
        for _ in range(ROUNDS):
          # VisionIPC at every size and the msgq reference, interleaved sample by sample.
          rows += run_harness(['vipc_msgq', samples_for('4KiB')], env)
          for impl in ('zmq_ipc',) + (() if why_not else ('iceoryx',)):
            for case in CASES:
              rows += run_harness(['latency', impl, case, samples_for(case)], env)
          for clients in (1, 2, 4):
            rows += run_harness(['producer', str(clients), samples_for('4KiB')], env)
      finally:
        roudi.stop()
  finally:
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)
  return median_rows(rows)
