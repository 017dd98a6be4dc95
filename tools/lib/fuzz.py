"""The libFuzzer targets: which exist, building them (scons --sanitize=fuzz, into
build/fuzz/), and running one for a while. Each target's committed seed corpus
is <component>/fuzz/corpus/<target>/; what a run discovers goes to
build/fuzz/corpus/<target>/ (kept between runs), and a crashing input to
build/fuzz/crashes/<target>-crash-<sha1> with the run's log next to it."""
import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
VARIANT = os.path.join(ROOT, 'build', 'fuzz')
TARGETS = {  # target: component folder
  'event_head': 'cereal',
  'log_file_reader': 'loggerd',
  'model_file': 'modeld',
  'msgq_attach': 'msgq',
  'vipc_client': 'visionipc',
}
# A decompression bomb or a model that asks for gigabytes is a finding, not a slow run.
OPTIONS = ['-rss_limit_mb=2048', '-malloc_limit_mb=1024', '-timeout=10', '-max_len=16384', '-print_final_stats=1']


def build(targets):
  cmd = ['scons', '-Q', f'-j{os.cpu_count()}', '--sanitize=fuzz'] + [f'build/fuzz/{t}' for t in targets]
  subprocess.run(cmd, cwd=ROOT, check=True)


# The gate in ./test.sh: a fixed seed and a fixed number of runs per target, so
# it makes the same inputs on every machine and passes or fails alike; finding
# new bugs is the timed runs' job (tools/fuzz TARGET SECONDS).
GATE_OPTIONS = ['-seed=1', '-runs=20000']


def run(target, seconds, gate=False):
  """Fuzzes `target` for `seconds` (gate: GATE_OPTIONS instead, on the committed
  seeds only). Returns {'execs', 'crashes', 'artifact', 'log', 'left_behind'}:
  libFuzzer stops at the first crash, so crashes is 0 or 1; left_behind names
  the shm directory of a run that exited cleanly without removing it."""
  work = os.path.join(VARIANT, 'corpus', target)
  crashes = os.path.join(VARIANT, 'crashes')
  os.makedirs(work, exist_ok=True)
  os.makedirs(crashes, exist_ok=True)
  prefix = os.path.join(crashes, target + '-')
  before = set(glob.glob(prefix + '*'))
  log = prefix + 'log.txt'
  seeds = os.path.join(ROOT, TARGETS[target], 'fuzz', 'corpus', target)
  if gate:
    work = os.path.join(VARIANT, 'gate_corpus', target)
    subprocess.run(['rm', '-rf', work], check=True)
    os.makedirs(work)
  limit = GATE_OPTIONS if gate else [f'-max_total_time={seconds}']
  cmd = [os.path.join(VARIANT, 'build', 'fuzz', target), *limit, f'-artifact_prefix={prefix}', *OPTIONS, work, seeds]
  with open(log, 'w') as out:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
      rc = proc.wait(timeout=seconds + 120)
    finally:
      proc.kill()
      proc.wait()
  # A target's bus (common/testing/fuzz_prefix.h) and scratch file
  # (/tmp/fuzz_<target>_<pid>*): it removes them itself, but a crash or timeout
  # ends the run first.
  bus = f'/dev/shm/conduit_fuzz_{target}_{proc.pid}'
  left_behind = rc == 0 and os.path.exists(bus)
  shutil.rmtree(bus, ignore_errors=True)
  for scratch in glob.glob(f'/tmp/fuzz_{target}_{proc.pid}*'):
    os.unlink(scratch)
  text = open(log, errors='replace').read()
  execs = re.findall(r'stat::number_of_executed_units: (\d+)', text) or re.findall(r'^#(\d+)', text, re.M) or ['0']
  artifacts = sorted(set(glob.glob(prefix + '*')) - before - {log})
  return {'execs': int(execs[-1]), 'crashes': int(rc != 0), 'artifact': artifacts[0] if artifacts else None, 'log': log,
          'left_behind': bus if left_behind else None}


def rows(seconds):
  """Bench rows of the chaos bench's `fuzz` case: every target fuzzed for `seconds`."""
  build(TARGETS)
  out = []
  for target in TARGETS:
    r = run(target, seconds)
    out.append({'bench': 'chaos', 'impl': target, 'case': 'fuzz', 'metric': 'execs', 'value': r['execs'], 'unit': 'count'})
    out.append({'bench': 'chaos', 'impl': target, 'case': 'fuzz', 'metric': 'crashes', 'value': r['crashes'], 'unit': 'count'})
  return out


def main(argv):
  """tools/fuzz [--gate] [TARGET|all] [SECONDS]: builds and fuzzes; exits 1 on a crash."""
  gate = bool(argv) and argv[0] == '--gate'
  argv = argv[1:] if gate else argv
  which = argv[0] if argv else 'all'
  seconds = int(argv[1]) if len(argv) > 1 else 20
  targets = list(TARGETS) if which == 'all' else [which]
  unknown = [t for t in targets if t not in TARGETS]
  if unknown:
    sys.exit(f'fuzz: unknown target {unknown[0]!r}; known: {", ".join(TARGETS)}')
  build(targets)
  failed = False
  for t in targets:
    r = run(t, seconds, gate)
    print(f'{t:16} {"gate" if gate else f"{seconds:d} s":>7}  {r["execs"]:10d} execs  {r["crashes"]} crashes', flush=True)
    if r['crashes']:
      failed = True
      print(f'  crash: input {r["artifact"]}, log {r["log"]}; reproduce: '
            f'build/fuzz/build/fuzz/{t} {r["artifact"]}', flush=True)
    if r['left_behind']:
      failed = True
      print(f'  {t} exited leaving its shared memory {r["left_behind"]} behind', flush=True)
  return 1 if failed else 0
