"""loggerd benchmark: io_uring, io_uring with SQPOLL and pwrite backends on the
same loads, and the raw disk write bandwidth of the log root (the limit).

Cases: `realistic` (every logged service at its rate, road + wide H.265 at
~10 Mbit/s each, qcamera: ~2.9 MB/s) and `stress` (64-byte testMessages as fast
as one publisher can send). MB are megabytes (1e6) of messages loggerd logged.

  cpu_s_per_mb     loggerd's user+sys CPU per MB, all its threads (io_uring workers
                   and the SQPOLL kernel thread included: they are threads of the
                   process), from the load's start until it was written: start-up
                   (mapping rings, registering buffers) and shutdown are not per MB
  sq_thread_cpu_s_per_mb  the SQPOLL thread's (iou-sqp-PID) share of cpu_s_per_mb
  syscalls_per_mb  every syscall of loggerd in the steady state (strace -c -f attached
                   WARMUP_S into the load until its end, a separate run: strace slows
                   the process, so CPU and MB/s come from untraced runs)
  io_syscalls_per_mb  the I/O path's share of those: io_uring_enter and the write and
                   fsync families (IO_SYSCALLS). The rest is the loop's own waiting (a
                   timed sleep or msgq futex per turn) and housekeeping; plain io_uring
                   folds its turn's sleep into the io_uring_enter that submits
  mb_per_s         MB logged (sent minus dropped) per second of load
  dropped          messages loggerd lost (msgq lapped, malformed, video before a keyframe)
  cores            CPU seconds per second of load
  io_syscalls_ratio  io_uring_sqpoll over io_uring io_syscalls_per_mb (target <= 1/20 at realistic)
  syscalls_ratio   the same for every syscall (the turns' sleeps included)
Medians over REPEATS runs (LOGGERD_BENCH_REPEATS, default 3); LOGGERD_BENCH_CASES picks cases.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from common.testing.wait import wait_for  # noqa: E402

BIN = os.path.join(ROOT, 'build', 'bin')
SECONDS = {'realistic': 8.0, 'stress': 3.0}
SETTLE_S = 0.5
WARMUP_S = 1.0
# The syscalls of the I/O path: submitting and reaping, or doing the writes themselves.
IO_SYSCALLS = {'io_uring_enter', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'fsync', 'fdatasync',
               'sync_file_range'}


def _log_root_fs():
  root = os.environ.get('CONDUIT_LOG_ROOT', os.path.join(ROOT, 'data', 'routes'))
  os.makedirs(root, exist_ok=True)
  return root


def _cpu_s(pid):
  """CPU seconds of process `pid` so far, every thread included (exited ones too):
  its process CPU clock, CPUCLOCK_SCHED of clock id ~pid << 3 | 2."""
  return time.clock_gettime(((~pid) << 3) | 2)


def _sq_thread_cpu_s(pid):
  """CPU seconds of the process's SQPOLL kernel thread (iou-sqp-PID), 0 without one."""
  total = 0.0
  for tid in os.listdir(f'/proc/{pid}/task'):
    try:
      with open(f'/proc/{pid}/task/{tid}/comm') as f:
        if not f.read().startswith('iou-sqp'):
          continue
      with open(f'/proc/{pid}/task/{tid}/schedstat') as f:
        total += int(f.read().split()[0]) / 1e9
    except OSError:
      pass
  return total


def _strace_counts(path):
  counts = {}
  with open(path) as f:
    for line in f:
      m = re.match(r'\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$', line)
      if m and m.group(2) != 'total':  # strace's summary line repeats the sum
        counts[m.group(2)] = int(m.group(1))
  return counts


def _run_once(impl, case, n, trace):
  tmp = tempfile.mkdtemp(prefix='.loggerd_bench_', dir=_log_root_fs())
  env = dict(os.environ, CONDUIT_LOG_ROOT=tmp, LOGGERD_ROUTE='bench', LOGGERD_IO=impl,
             CONDUIT_PREFIX=f'lgbench{os.getpid()}_{n}', LOGGERD_MIN_FREE_PERCENT='0')
  strace_out = os.path.join(tmp, 'strace.txt')
  proc = subprocess.Popen([os.path.join(BIN, 'loggerd')], env=env, stderr=subprocess.DEVNULL)
  tracer = None
  traced_s = 0.0
  try:
    rlog = os.path.join(tmp, 'bench--0', 'rlog.zst')
    if not wait_for(lambda: os.path.exists(rlog), 20, 0.01):
      raise RuntimeError(f'loggerd did not create {rlog}')
    cpu_start, sq_start = _cpu_s(proc.pid), _sq_thread_cpu_s(proc.pid)
    gen = subprocess.Popen([os.path.join(BIN, 'loggerd_loadgen'), case, str(SECONDS[case])], env=env,
                           stdout=subprocess.PIPE, text=True)
    if trace:
      # Steady state only: attached once every file of the segment is open,
      # detached when the load ends (per-segment costs are not per MB).
      time.sleep(WARMUP_S)
      tracer = subprocess.Popen(['strace', '-c', '-f', '-o', strace_out, '-p', str(proc.pid)],
                                stderr=subprocess.DEVNULL)
      traced_from = time.monotonic()
    out, _ = gen.communicate(timeout=120)
    if gen.returncode != 0:
      raise RuntimeError(f'loggerd_loadgen {case} failed ({gen.returncode})')
    sent = json.loads(out)
    if tracer:
      traced_s = time.monotonic() - traced_from
      tracer.send_signal(signal.SIGINT)
      tracer.wait(timeout=30)
      tracer = None
    time.sleep(SETTLE_S)  # the last turn and flush window of the load
    cpu_s = _cpu_s(proc.pid) - cpu_start
    sq_s = _sq_thread_cpu_s(proc.pid) - sq_start
  finally:
    if tracer:
      tracer.send_signal(signal.SIGINT)
      tracer.wait(timeout=30)
    proc.send_signal(signal.SIGINT)
    proc.wait()
  try:
    counts = _strace_counts(strace_out) if trace else None
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(f"/dev/shm/conduit_{env['CONDUIT_PREFIX']}", ignore_errors=True)
  # MB logged: what was sent minus what loggerd lost (stress messages all have one size).
  kept = 1 - sent['dropped'] / max(1, sent['messages'])
  mb = sent['bytes'] / 1e6 * kept
  return {'mb': mb, 'seconds': sent['seconds'], 'cpu_s': cpu_s, 'sq_s': sq_s, 'dropped': sent['dropped'], 'counts': counts,
          'traced_mb': mb * min(1.0, traced_s / sent['seconds'])}


def _disk_limit():
  tmp = tempfile.mkdtemp(prefix='.loggerd_bench_disk_', dir=_log_root_fs())
  block = os.urandom(1 << 20)
  total = 256
  try:
    path = os.path.join(tmp, 'seq')
    t0 = time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
      for _ in range(total):
        os.write(fd, block)
      os.fsync(fd)
    finally:
      os.close(fd)
    return total * (1 << 20) / 1e6 / (time.monotonic() - t0)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def run():
  repeats = int(os.environ.get('LOGGERD_BENCH_REPEATS', '3'))
  rows = []
  n = 0
  for case in os.environ.get('LOGGERD_BENCH_CASES', 'realistic,stress').split(','):
    per_mb = {}
    for impl in ('io_uring', 'io_uring_sqpoll', 'pwrite'):
      runs = []
      for _ in range(repeats):
        runs.append(_run_once(impl, case, n, trace=False))
        n += 1
      traced = _run_once(impl, case, n, trace=True)
      n += 1

      def med(f):
        return statistics.median(f(r) for r in runs)
      counts = traced['counts']
      io_calls = sum(v for k, v in counts.items() if k in IO_SYSCALLS)
      values = {
        'syscalls_per_mb': (sum(counts.values()) / traced['traced_mb'], 'calls/MB'),
        'io_syscalls_per_mb': (io_calls / traced['traced_mb'], 'calls/MB'),
        'cpu_s_per_mb': (med(lambda r: r['cpu_s'] / r['mb']), 's/MB'),
        'mb_per_s': (med(lambda r: r['mb'] / r['seconds']), 'MB/s'),
        'dropped': (med(lambda r: r['dropped']), 'messages'),
        'cores': (med(lambda r: r['cpu_s'] / r['seconds']), 'cores'),
      }
      if impl == 'io_uring_sqpoll':
        values['sq_thread_cpu_s_per_mb'] = (med(lambda r: r['sq_s'] / r['mb']), 's/MB')
      per_mb[impl] = values['syscalls_per_mb'][0], values['io_syscalls_per_mb'][0]
      print(f'loggerd bench: {case} {impl} syscalls in {traced["traced_mb"]:.1f} MB: '
            + ', '.join(f'{k} {v}' for k, v in sorted(counts.items(), key=lambda kv: -kv[1])), file=sys.stderr)
      for metric, (value, unit) in values.items():
        rows.append({'bench': 'loggerd', 'impl': impl, 'case': case, 'metric': metric, 'value': value, 'unit': unit})
    for metric, k in (('syscalls_ratio', 0), ('io_syscalls_ratio', 1)):
      rows.append({'bench': 'loggerd', 'impl': 'io_uring_sqpoll_vs_io_uring', 'case': case, 'metric': metric,
                   'value': per_mb['io_uring_sqpoll'][k] / per_mb['io_uring'][k], 'unit': 'x'})
  speeds = [_disk_limit() for _ in range(repeats)]
  rows.append({'bench': 'loggerd', 'impl': 'disk_limit', 'case': 'seq_write', 'metric': 'mb_per_s',
               'value': statistics.median(speeds), 'unit': 'MB/s'})
  return rows
