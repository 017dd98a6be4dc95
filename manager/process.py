"""One supervised child process: how to start it, its output, its restarts.

A ManagedProcess is driven by the manager's main thread only (start, poll,
stop): PR_SET_PDEATHSIG is bound to the thread that forks, so children must be
forked from the thread that lives as long as the manager. Output lines are read
by two daemon threads per child and queued for the main thread.
"""
import ctypes
import functools
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from common import watchdog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.environ.get('PYTHON', '/usr/bin/python3')
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class ProcessSpec:
  """A row of the process table.

  argv:      command line, relative paths resolved against the repo root;
             a callable gets the Params and returns the argv
  python:    alternatively a Python module to run with Debian's python3, as
             __main__ (manager/python_process.py: a stop prints no traceback)
  enabled:   callable(params) -> bool: whether it should run at all
  restart:   'always' (also after a clean exit), 'on-failure', or 'never'
  watchdog:  seconds without a heartbeat (common/watchdog) before a restart; 0 = off
  env:       extra environment: a dict, or a callable(params) -> dict
  nice:      added to the child's nice value (> 0: it yields the CPU to the others)
  death_signal: what the child gets when the manager dies (PR_SET_PDEATHSIG):
             SIGKILL, or a signal it stops on cleanly and promptly by itself
  """
  name: str
  argv: object = None
  python: Optional[str] = None
  enabled: Callable = lambda params: True
  restart: str = 'on-failure'
  watchdog: float = 0.0
  env: object = field(default_factory=dict)
  nice: int = 0
  death_signal: int = signal.SIGKILL

  def command(self, params) -> List[str]:
    if self.python:
      return [PYTHON, '-m', 'manager.python_process', self.python]
    argv = self.argv(params) if callable(self.argv) else list(self.argv)
    if argv and not os.path.isabs(argv[0]) and os.sep in argv[0]:
      argv[0] = os.path.join(ROOT, argv[0])
    return argv


def _child_setup(nice, death_signal):
  # Runs in the child between fork and exec: signal us if the manager dies.
  _libc.prctl(_PR_SET_PDEATHSIG, death_signal)
  if os.getppid() == 1:
    os._exit(1)  # the manager is already gone
  if nice:
    os.nice(nice)
    # Each child leads its own session, so with autogroup scheduling
    # (kernel.sched_autogroup_enabled) its nice value only ranks its own threads;
    # the autogroup's nice is what ranks it against the other processes.
    try:
      with open('/proc/self/autogroup', 'w') as f:
        f.write(str(nice))
    except OSError:
      pass  # no autogroup: the nice value above is what counts


class ManagedProcess:
  BACKOFF_START = 0.5
  BACKOFF_MAX = 16.0
  # A run this long was no crash loop: the backoff starts over and the restart is immediate.
  STABLE_AFTER = 10.0

  def __init__(self, spec: ProcessSpec, output: 'queue.Queue', run_env=None):
    self.spec = spec
    self.output = output
    self.run_env = run_env or {}  # the manager run's environment (its route), under the spec's own
    self.proc: Optional[subprocess.Popen] = None
    self.restart_count = 0
    self.crashes_in_a_row = 0
    self.exit_code: Optional[int] = None
    self.start_time = 0.0
    self.next_start = 0.0
    self.last_restart_ns = 0
    self.should_run = False
    self.finished = False  # exited and its restart policy does not bring it back
    self.failed = False  # crashed at least once, or did not stop cleanly

  @property
  def name(self):
    return self.spec.name

  @property
  def pid(self):
    return self.proc.pid if self.proc else 0

  def running(self) -> bool:
    return self.proc is not None and self.proc.poll() is None

  def start(self, params) -> None:
    argv = self.spec.command(params)
    extra = self.spec.env(params) if callable(self.spec.env) else self.spec.env
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env.update(self.run_env)
    env.update(extra)
    self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True,
                                 preexec_fn=functools.partial(_child_setup, self.spec.nice, self.spec.death_signal))
    self.start_time = time.monotonic()
    self.exit_code = None
    for stream, name in ((self.proc.stdout, 'stdout'), (self.proc.stderr, 'stderr')):
      threading.Thread(target=self._pump, args=(stream, name, self.proc.pid), daemon=True).start()

  def _pump(self, stream, name, pid):
    for line in iter(stream.readline, b''):
      self.output.put((self.name, pid, name, line.decode(errors='replace').rstrip('\n')))
    stream.close()

  def reap(self) -> bool:
    """True when the child exited since the last call; records why."""
    if self.proc is None or self.proc.poll() is None:
      return False
    self.exit_code = self.proc.returncode
    watchdog.forget(self.proc.pid)
    self.proc = None
    return True

  def schedule_restart(self, now: float) -> None:
    """Backoff applies to crash loops only: 0.5, 1, 2 .. 16 s after runs shorter
    than STABLE_AFTER; a process that ran longer comes back at once."""
    stable = now - self.start_time >= self.STABLE_AFTER
    self.crashes_in_a_row = 0 if stable else self.crashes_in_a_row + 1
    delay = 0.0 if stable else min(self.BACKOFF_START * 2 ** (self.crashes_in_a_row - 1), self.BACKOFF_MAX)
    self.next_start = now + delay

  def heartbeat_ns(self) -> Optional[int]:
    return watchdog.last_kick_ns(self.pid) if self.proc else None

  def watchdog_expired(self) -> bool:
    if not self.spec.watchdog or not self.running():
      return False
    last = self.heartbeat_ns()
    if last is None:  # never kicked: give it the limit from its start
      return time.monotonic() - self.start_time > max(self.spec.watchdog, 10.0)
    return (time.monotonic_ns() - last) / 1e9 > self.spec.watchdog

  def signal(self, sig) -> None:
    if self.running():
      try:
        os.killpg(self.proc.pid, sig)
      except ProcessLookupError:
        pass
