"""The msgq benchmark's own harness: it must measure what it claims and fail
loudly on bad input. Short runs, no timing assertions (the machine is shared)."""
import importlib.util
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin', 'msgq_bench')

pytestmark = pytest.mark.skipif(not os.path.exists(BIN), reason=f'{BIN} not built (run scons)')


def load_bench_module():
  spec = importlib.util.spec_from_file_location('msgq_bench_module', os.path.join(ROOT, 'msgq', 'bench', 'msgq.py'))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


@pytest.fixture
def env(tmp_path):
  prefix = f'msgqbenchtest{os.getpid()}'
  e = dict(os.environ, CONDUIT_PREFIX=prefix)
  e.pop('ZMQ', None)
  yield e
  shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)


def run_bench(env, tag, *args):
  r = subprocess.run([BIN, '--tag', tag, '--seconds', '0.05', *args], env=env, capture_output=True, text=True,
                     timeout=120)
  rows = {}
  notes = []
  for line in r.stdout.splitlines():
    kind, _, rest = line.partition(' ')
    if kind == 'row':
      metric, value, unit = rest.split()
      rows[metric] = (float(value), unit)
    elif kind == 'note':
      notes.append(rest)
  return r, rows, notes


@pytest.mark.parametrize('impl', ['msgq', 'msgq_loan', 'futex_floor', 'zmq_ipc', 'zmq_tcp'])
@pytest.mark.parametrize('mode', ['block', 'poll'])
def test_latency_rows(env, impl, mode):
  r, rows, notes = run_bench(env, f'lat_{impl}_{mode}', '--impl', impl, '--mode', mode, '--size', '4096')
  assert r.returncode == 0, r.stderr
  prefix = 'poll_' if mode == 'poll' else ''
  p50, unit = rows[prefix + 'p50_us']
  p99, _ = rows[prefix + 'p99_us']
  assert unit == 'us'
  assert 0 < p50 <= p99
  assert any('round trips, one-way = RTT/2' in n for n in notes)


@pytest.mark.parametrize('impl,size', [('msgq', 64), ('msgq_loan', 65536)])
def test_msgq_throughput_loss_count_matches_sequence_gaps(env, impl, size):
  # A publisher flat out against one subscriber usually laps it; whether it
  # does or not, msgq's lost() must agree exactly with the gaps in the
  # sequence numbers the subscriber saw (msgq_loan: views overwritten before
  # they were checked count as lost).
  r, rows, notes = run_bench(env, f'tput_{impl}', '--impl', impl, '--mode', 'throughput', '--size', str(size), '--pin')
  assert r.returncode == 0, r.stderr
  assert not [n for n in notes if n.startswith('WARNING')], notes
  summary = next(n for n in notes if n.startswith(f'{impl} throughput'))
  m = re.search(r'sent (\d+) received (\d+), gaps in sequence (\d+), transport-reported lost (\d+)', summary)
  assert m, summary
  sent, received, gaps, reported = map(int, m.groups())
  assert 0 < received <= sent
  assert reported == gaps
  assert rows['lost_pct'][0] == pytest.approx(100.0 * (sent - received) / sent, rel=1e-3)
  assert rows['msgs_per_s'][0] > 0 and rows['sub_cpu_ns_per_msg'][0] > 0


def test_bad_arguments_are_clear_errors(env):
  r, _, _ = run_bench(env, 'bad1', '--impl', 'msgq', '--mode', 'sideways')
  assert r.returncode == 2
  assert "--mode must be block, poll or throughput, got 'sideways'" in r.stderr
  r, _, _ = run_bench(env, 'bad2', '--impl', 'nanomsg', '--mode', 'block')
  assert r.returncode == 2
  assert "unknown --impl 'nanomsg'" in r.stderr and 'zmq_ipc' in r.stderr
  r, _, _ = run_bench(env, 'bad3', '--impl', 'futex_floor', '--mode', 'throughput')
  assert r.returncode == 2
  assert 'futex_floor has no throughput mode' in r.stderr
  r, _, _ = run_bench(env, 'bad4', '--impl', 'msgq', '--mode', 'block', '--size', '4')
  assert r.returncode == 2
  assert '--size must be between 8 and 67108864 bytes, got 4' in r.stderr
  r, _, _ = run_bench(env, 'bad5', '--impl', 'msgq', '--mode', 'block', '--size', 'lots')
  assert r.returncode == 2
  assert "--size needs a positive number, got 'lots'" in r.stderr


def test_target_check_reads_the_rows():
  mod = load_bench_module()

  def row(impl, metric, value):
    return mod.row(impl, '64B', metric, value, 'us')

  rows = [row('msgq', 'p50_us', 6.0), row('futex_floor', 'p50_us', 5.0), row('zmq_ipc', 'p50_us', 20.0),
          row('msgq', 'poll_p50_us', 0.4), row('msgq', 'msgs_per_s', 1.5e6)]
  lines = mod.check_targets(rows)
  assert len(lines) == 4
  assert lines[0].startswith('met ') and 'ratio 1.20' in lines[0]
  assert lines[1].startswith('MISS') and 'ratio 3.3' in lines[1]
  assert lines[2].startswith('met ')
  assert lines[3].startswith('MISS') and '1,500,000' in lines[3]


def test_loan_target_check_reads_the_rows():
  mod = load_bench_module()
  rows = [mod.row('msgq_loan', '1MiB', 'poll_p50_us', 0.2, 'us'), mod.row('iceoryx', '1MiB', 'poll_p50_us', 0.3, 'us'),
          mod.row('msgq_loan', '1MiB', 'p50_us', 7.0, 'us'), mod.row('futex_floor', '64B', 'p50_us', 5.0, 'us'),
          mod.row('msgq_loan', '64KiB', 'p50_us', 6.0, 'us'), mod.row('msgq_loan', '4MiB', 'p50_us', 8.0, 'us'),
          mod.row('msgq_loan', '64KiB', 'poll_p50_us', 0.2, 'us'), mod.row('msgq_loan', '4MiB', 'poll_p50_us', 0.4, 'us')]
  lines = mod.check_loan_targets(rows)
  assert len(lines) == 4
  assert lines[0].startswith('met ') and 'iceoryx 0.300' in lines[0]
  assert lines[1].startswith('MISS') and 'ratio 1.40' in lines[1]
  assert lines[2].startswith('met ') and 'ratio 1.33' in lines[2]
  assert lines[3].startswith('MISS') and 'ratio 2.00' in lines[3]
