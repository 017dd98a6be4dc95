import json
import os
import queue
import signal
import struct
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)

from common.proc import alive, children  # noqa: E402
from common.testing.wait import wait_for  # noqa: E402
from manager.manager import Manager  # noqa: E402
from manager.process import ManagedProcess, ProcessSpec  # noqa: E402

PY = '/usr/bin/python3'


@pytest.fixture(autouse=True)
def prefix(monkeypatch, tmp_path):
  monkeypatch.setenv('CONDUIT_PREFIX', f'mgrtest{os.getpid()}')
  monkeypatch.setenv('CONDUIT_PARAMS_DIR', str(tmp_path / 'params'))
  yield
  subprocess.run(['rm', '-rf', f'/dev/shm/conduit_mgrtest{os.getpid()}'])


def py(code):
  return [PY, '-c', code]


def run_for(mgr, seconds):
  return mgr.run(duration=seconds)


def test_crashing_process_is_restarted_with_backoff_and_others_keep_running():
  specs = [ProcessSpec('crasher', py('import sys; sys.exit(3)'), restart='always'),
           ProcessSpec('steady', py('import time; time.sleep(60)'), restart='always')]
  pids = set()
  mgr = Manager(specs, publish=False, echo=False,
                on_tick=lambda m: pids.add(m.procs[1].pid) if m.procs[1].pid else None)
  rc = run_for(mgr, 3.2)
  crasher, steady = mgr.procs
  # backoff 0.5, 1, 2 s: in 3.2 s it starts 3 or 4 times, not 60
  assert 2 <= crasher.restart_count <= 4, crasher.restart_count
  assert crasher.exit_code == 3
  assert len(pids) == 1, 'the steady process was restarted'
  assert steady.restart_count == 0
  assert rc == 1  # a process failed during the run


def test_backoff_applies_to_crash_loops_only_and_a_stable_process_comes_back_at_once():
  p = ManagedProcess(ProcessSpec('x', py('pass')), queue.Queue())
  now = 1000.0

  def restart_after(ran):
    p.start_time = now - ran
    p.schedule_restart(now)
    return p.next_start - now
  assert [restart_after(1.0) for _ in range(7)] == [0.5, 1, 2, 4, 8, 16, 16]
  assert restart_after(ManagedProcess.STABLE_AFTER) == 0.0, 'a run of 10 s is no crash loop'
  assert ManagedProcess.STABLE_AFTER <= 10.0
  assert restart_after(0.2) == 0.5, 'a new crash loop starts its backoff over'


def test_manager_survives_a_tampered_ring_header_and_publishes_again(capfd):
  import cereal.messaging as messaging
  from common.prefix import shm_dir
  sock = messaging.sub_sock('managerState')
  tampered = []

  def tamper(m):
    # After 1 s, another process's pid goes into managerState's publisher word
    # (offset 24 of the ring header): the manager's next send finds itself replaced.
    if not tampered and time.monotonic() - t0 > 1.0:
      with open(os.path.join(shm_dir(), 'managerState'), 'r+b') as f:
        f.seek(24)
        f.write(struct.pack('<Q', (0x7ffffff0 << 32) | 1))  # a pid above pid_max: nobody
      tampered.append(time.monotonic_ns())
  mgr = Manager([ProcessSpec('short', py('import time; time.sleep(0.2)'), restart='always')], echo=False, on_tick=tamper)
  t0 = time.monotonic()
  mgr.run(duration=4.0)  # before the fix: raised MsgqError("... replaced by pid ...") out of run()
  assert tampered and mgr.bus_faults == 1
  assert mgr.procs[0].restart_count >= 3, 'supervision went on after the fault'
  after = [m for m in messaging.drain_sock(sock) if m.which() == 'managerState' and m.logMonoTime > tampered[0]]
  assert len(after) >= 3, 'managerState was not published again after the fault'
  assert after[-1].managerState.shuttingDown
  err = capfd.readouterr().err
  assert 'bus fault #1: publishing managerState failed' in err and 'replaced by pid 2147483632' in err, err
  assert 'bus re-opened' in err


def test_clean_exit_not_restarted_on_failure_policy():
  mgr = Manager([ProcessSpec('once', py('pass'), restart='on-failure')], publish=False, echo=False)
  assert run_for(mgr, 1.0) == 0
  assert mgr.procs[0].restart_count == 0
  assert mgr.procs[0].exit_code == 0
  assert mgr.procs[0].finished and not mgr.procs[0].should_run  # managerState says it should not run


def test_watchdog_restarts_a_silent_process():
  code = ('import sys, time; sys.path.insert(0, %r); from common import watchdog\n'
          'for _ in range(5):\n  watchdog.kick(); time.sleep(0.05)\n'
          'time.sleep(60)' % ROOT)
  mgr = Manager([ProcessSpec('hung', py(code), restart='always', watchdog=0.5)], publish=False, echo=False)
  run_for(mgr, 3.0)
  p = mgr.procs[0]
  assert p.restart_count >= 1
  assert p.failed


def test_disabled_process_does_not_run():
  mgr = Manager([ProcessSpec('off', py('import time; time.sleep(60)'), enabled=lambda params: False)],
                publish=False, echo=False)
  run_for(mgr, 0.5)
  assert mgr.procs[0].restart_count == 0 and mgr.procs[0].pid == 0 and mgr.procs[0].exit_code is None


def test_nice_is_applied_to_the_child_only(tmp_path):
  def spec(name, **kw):
    code = (f'import os; ag = open("/proc/self/autogroup").read().split()[-1] if os.path.exists("/proc/self/autogroup") '
            f'else "none"; open({str(tmp_path / name)!r}, "w").write(f"{{os.nice(0)}} {{ag}}")')
    return ProcessSpec(name, py(code), restart='never', **kw)
  base = os.nice(0)
  mgr = Manager([spec('niced', nice=5), spec('plain')], publish=False, echo=False)
  run_for(mgr, 1.0)
  assert [p.exit_code for p in mgr.procs] == [0, 0]
  niced, niced_group = (tmp_path / 'niced').read_text().split()
  plain, plain_group = (tmp_path / 'plain').read_text().split()
  assert int(niced) == min(base + 5, 19) and int(plain) == base
  if niced_group != 'none':  # autogroup scheduling: the child's session is ranked by its autogroup nice
    assert (int(niced_group), int(plain_group)) == (5, 0)
  assert os.nice(0) == base, 'the manager keeps its own nice value'


def _start_manager(rows, *extra):
  p = subprocess.Popen([PY, os.path.join(ROOT, 'manager/tests/fake_manager.py'), json.dumps(rows), *extra],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  assert p.stdout.readline().startswith('manager pid')
  return p


def _child_pids(manager_pid, n, timeout=10):
  pids = []

  def found():
    nonlocal pids
    pids = children(manager_pid)
    return len(pids) >= n
  assert wait_for(found, timeout), f'manager started {pids}, expected {n} children'
  return pids


def test_sigterm_stops_children_and_sigkills_stubborn_ones(tmp_path):
  up = tmp_path / 'up'
  stubborn = ('import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); '
              f'open({str(up)!r}, "w").close(); time.sleep(60)')
  rows = [{'name': 'polite', 'argv': py('import time; time.sleep(60)')},
          {'name': 'stubborn', 'argv': py(stubborn)}]
  mgr = _start_manager(rows)
  kids = _child_pids(mgr.pid, 2)
  assert wait_for(up.exists), 'the stubborn child never installed its handler'
  t0 = time.monotonic()
  mgr.send_signal(signal.SIGTERM)
  out, _ = mgr.communicate(timeout=15)
  took = time.monotonic() - t0
  assert mgr.returncode == 1, out  # the stubborn one had to be killed
  assert 'stubborn did not stop' in out
  assert took < 8.0
  assert not any(alive(k) for k in kids)


def test_children_die_when_the_manager_is_sigkilled():
  mgr = _start_manager([{'name': 'a', 'argv': py('import time; time.sleep(60)')},
                        {'name': 'b', 'argv': py('import time; time.sleep(60)')}])
  kids = _child_pids(mgr.pid, 2)
  mgr.kill()
  mgr.wait()
  assert wait_for(lambda: not any(alive(k) for k in kids), 5), 'orphans left behind'


def test_a_clean_stop_leaves_no_rings_behind():
  from common.shm import prefix_dir
  mgr = Manager([ProcessSpec('a', py('import time; time.sleep(60)'))], echo=False)
  assert mgr.run(duration=1.0) == 0
  assert not os.path.exists(prefix_dir(os.environ['CONDUIT_PREFIX'])), 'shared memory left after a clean stop'
