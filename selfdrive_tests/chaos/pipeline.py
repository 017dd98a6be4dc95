"""The pipeline the chaos suite attacks: the manager running the real process
table (manager/process_config.py) plus the checksummed test service
(checksum.py), in its own CONDUIT_PREFIX, params dir and log root, and what the
suite needs to watch it: which child is which, when each started, restart
latency, rates on the bus, orphans.

  with ChaosPipeline(tmp) as p:   # starts the manager; stops it (and any orphan) on exit
    p.wait_all_up()
    p.kill('encoderd')            # -> the new pid and how long the manager took

`python -m selfdrive_tests.chaos.pipeline` is the manager process itself.
Times: process start times come from /proc (clock ticks since boot), compared
with CLOCK_BOOTTIME, so a restart is timed to 10 ms whatever the manager's tick.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

from common.testing import process
from common.testing.wait import wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PYTHON = '/usr/bin/python3'
_TICK = os.sysconf('SC_CLK_TCK')

# name -> a piece of its command line that tells it apart
SIGNATURES = {
  'camerad': 'build/bin/camerad', 'modeld': 'build/bin/modeld', 'encoderd': 'build/bin/encoderd',
  'loggerd': 'build/bin/loggerd', 'checksum_pub': 'chaos.checksum pub', 'checksum_sub': 'chaos.checksum sub',
}


def chaos_processes():
  from manager.process import ProcessSpec
  from manager.process_config import PROCESSES
  extra = [ProcessSpec(n, [PYTHON, '-m', 'selfdrive_tests.chaos.checksum', n.split('_')[1]], restart='always')
           for n in ('checksum_pub', 'checksum_sub')]
  return PROCESSES + extra


def boottime():
  return time.clock_gettime(time.CLOCK_BOOTTIME)


def proc_start(pid):
  """Start time of pid in seconds since boot (CLOCK_BOOTTIME), or None if gone."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      fields = f.read().rsplit(')', 1)[1].split()
  except OSError:
    return None
  return None if fields[0] in ('Z', 'X') else int(fields[19]) / _TICK


def children(ppid):
  """{name: pid} of the live children of ppid that SIGNATURES names."""
  out = {}
  for d in os.listdir('/proc'):
    if not d.isdigit():
      continue
    try:
      with open(f'/proc/{d}/stat') as f:
        stat = f.read().rsplit(')', 1)[1].split()
      if int(stat[1]) != ppid or stat[0] in ('Z', 'X'):
        continue
      with open(f'/proc/{d}/cmdline', 'rb') as f:
        cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
    except (OSError, IndexError):
      continue
    for name, sig in SIGNATURES.items():
      if sig in cmd:
        out[name] = int(d)
  return out


class ChaosPipeline:
  def __init__(self, tmp, fps=20, size='482x302', segment_seconds=5, log_root=None, model=True, prefix=None):
    self.tmp = str(tmp)
    self.prefix = prefix or f'chaos{os.getpid()}_{int(time.monotonic() * 1000) % 100000}'
    self.log_root = log_root or os.path.join(self.tmp, 'routes')
    self.stats_dir = os.path.join(self.tmp, 'stats')
    self.fps = fps
    params_dir = os.path.join(self.tmp, 'params')
    for d in (self.log_root, self.stats_dir, params_dir):
      os.makedirs(d, mode=0o700, exist_ok=True)
    self.env = dict(os.environ, CONDUIT_PREFIX=self.prefix, CONDUIT_LOG_ROOT=self.log_root,
                    CONDUIT_PARAMS_DIR=params_dir, CHAOS_STATS_DIR=self.stats_dir, PYTHONPATH=ROOT)
    self.env.pop('LOGGERD_ROUTE', None)
    from manager.params import Params
    params = Params(params_dir)
    params.put('SegmentSeconds', segment_seconds)
    params.put('FrameSize', size)
    params.put('Fps', fps)
    params.put('EnabledCameras', ['road'])
    params.put('ModelEnabled', model)
    params.put('LogRoot', self.log_root)
    params.put('DeleterFreePercent', 0.0)  # the suite fills the disk itself; keep every segment to check
    self.mgr = None
    self.seen = {}  # pid -> name of every child ever seen
    self.sm = None
    self.bus_errors = []  # what the suite's own SubMaster was told about damaged rings

  # ------------------------------------------------------------ lifecycle

  def start(self):
    self.log = open(os.path.join(self.tmp, 'manager.log'), 'a')
    self.mgr = subprocess.Popen([PYTHON, '-m', 'selfdrive_tests.chaos.pipeline'], cwd=ROOT, env=self.env,
                                stdout=self.log, stderr=subprocess.STDOUT)
    return self

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.close()

  def close(self):
    """Stops the manager if it runs, kills whatever it left behind, removes the shm dir."""
    if self.mgr:
      process.stop(self.mgr, timeout=15)  # SIGTERM, SIGKILL after 15 s
    for pid in self.orphans():
      os.kill(pid, signal.SIGKILL)
    self.sm = None
    shutil.rmtree(f'/dev/shm/conduit_{self.prefix}', ignore_errors=True)

  def stop(self, sig=signal.SIGTERM, timeout=20):
    """Signals the manager and waits for it; returns its exit code."""
    self.procs()  # remember the children it has now
    self.mgr.send_signal(sig)
    return self.mgr.wait(timeout)

  def orphans(self, grace=0.0):
    """Children ever seen that still run (waiting up to `grace` s for them to go)."""
    end = time.monotonic() + grace
    while True:
      left = [pid for pid in self.seen if proc_start(pid) is not None and self._is_child_cmd(pid)]
      if not left or time.monotonic() >= end:
        return left
      time.sleep(0.1)

  def _is_child_cmd(self, pid):
    try:
      with open(f'/proc/{pid}/cmdline', 'rb') as f:
        cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
      return False
    return SIGNATURES[self.seen[pid]] in cmd

  # ------------------------------------------------------------ watching

  def procs(self):
    got = children(self.mgr.pid) if self.mgr else {}
    for name, pid in got.items():
      self.seen[pid] = name
    return got

  def wait_all_up(self, timeout=60):
    return wait_for(lambda: len(self.procs()) == len(SIGNATURES), timeout, 0.1)

  def uptime(self, pid):
    start = proc_start(pid)
    return None if start is None else boottime() - start

  def kill(self, name, timeout=30):
    """SIGKILLs `name`; returns (uptime s before the kill, restart ms or None if it did not come back)."""
    pid = self.procs()[name]
    ran = self.uptime(pid)
    t_kill = boottime()
    os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
      new = self.procs().get(name)
      if new and new != pid:
        start = proc_start(new)
        if start is not None:
          return ran, max(0.0, (start - t_kill) * 1000)
      time.sleep(0.02)
    return ran, None

  def subscribe(self, services):
    os.environ['CONDUIT_PREFIX'] = self.prefix
    import cereal.messaging as messaging
    self.sm = messaging.SubMaster(services)
    return self.sm

  def rates(self, services, seconds=3.0):
    """Messages per second of each service over the next `seconds`."""
    sm = self.sm if self.sm is not None and all(s in self.sm.services for s in services) else self.subscribe(services)
    counts = dict.fromkeys(services, 0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
      if not self._update(sm, 50):
        continue
      for s in services:
        counts[s] += sm.updated[s]
    return {s: n / seconds for s, n in counts.items()}

  def latest(self, service, seconds=2.5):
    """The newest message of `service` received within the next `seconds`, as a dict, or None."""
    sm = self.sm if self.sm is not None and service in self.sm.services else self.subscribe([service])
    got = None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
      if self._update(sm, 100) and sm.updated[service]:
        got = sm[service].to_dict()
    return got

  def _update(self, sm, timeout_ms):
    """sm.update(); a damaged ring (the suite's own doing) raises once, then reads resume."""
    try:
      sm.update(timeout_ms)
      return True
    except Exception as e:  # noqa: BLE001
      self.bus_errors.append(str(e))
      return False

  def manager_log(self, tail=4000):
    with open(os.path.join(self.tmp, 'manager.log'), errors='replace') as f:
      return f.read()[-tail:]


if __name__ == '__main__':
  sys.path.insert(0, ROOT)
  from manager.manager import Manager
  sys.exit(Manager(chaos_processes(), echo=True).run())
