#!/usr/bin/env python3
"""The manager: starts the processes of the process table, restarts the ones that
crash (exponential backoff per process, so a crash loop never starves the
others), restarts the ones whose watchdog heartbeat stops, forwards their output
as logMessage events, publishes managerState at 2 Hz (with each process's CPU %
and RSS) and deviceState at 1 Hz (manager/health.py), and on SIGINT/SIGTERM
stops them all: SIGINT first, SIGKILL after STOP_TIMEOUT seconds.

Children die with the manager even when it is SIGKILLed (PR_SET_PDEATHSIG), and
each runs in its own process group, so a stop reaches everything it started.

One route per run: the manager names it (LOGGERD_ROUTE, unless set already)
and every child gets the name, so a restarted loggerd continues the route with
the next segment instead of starting another.

The bus is the manager's output, never its lifeline: a fault publishing
managerState or logMessage (a damaged ring, a publisher slot taken over) is
reported on stderr, the publisher is re-opened a second later, and supervision
goes on.
Exit code: 0 when every process ran and stopped cleanly, 1 otherwise.
"""
import argparse
import os
import queue
import secrets
import signal
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common import proc, shm  # noqa: E402
from common.prefix import log_root, prefix, shm_dir  # noqa: E402
from manager.health import CpuMeter, DeviceMeter  # noqa: E402
from manager.params import Params  # noqa: E402
from manager.process import ManagedProcess  # noqa: E402

STOP_TIMEOUT = 5.0
STATE_PERIOD = 0.5
DEVICE_PERIOD = 1.0
BUS_RETRY = 1.0  # seconds between attempts to re-open the bus after a fault
CLEAN_EXITS = (0, -signal.SIGINT, -signal.SIGTERM)


class Manager:
  def __init__(self, specs, params=None, publish=True, echo=True, on_tick=None):
    self.params = params or Params()
    self.output = queue.Queue()
    self.route = os.environ.get('LOGGERD_ROUTE') or new_route_name()
    self.procs = [ManagedProcess(s, self.output, {'LOGGERD_ROUTE': self.route}) for s in specs]
    self.echo = echo
    self.on_tick = on_tick
    self.stop_requested = 0  # the signal number that asked us to stop
    self.publish = publish
    self.pm = None  # opened on first use, dropped on a bus fault
    self.bus_retry_at = 0.0
    self.bus_faults = 0
    self.cpu = CpuMeter()
    self.device = DeviceMeter(self.params.get('LogRoot') or log_root())
    if publish:
      import cereal.messaging as messaging
      self.messaging = messaging

  # ------------------------------------------------------------------ bus

  def _send(self, service, build):
    """Builds (build() -> message) and publishes; a fault is reported, never raised."""
    if not self.publish:
      return
    now = time.monotonic()
    if self.pm is None:
      if now < self.bus_retry_at:
        return
      try:
        self.pm = self.messaging.PubMaster(['managerState', 'logMessage', 'deviceState'])
      except Exception as e:  # noqa: BLE001: whatever the bus says, supervision goes on
        self._bus_fault(f'cannot open the bus: {e}', now)
        return
      if self.bus_faults:
        print('manager: bus re-opened; publishing again', file=sys.stderr, flush=True)
    try:
      self.pm.send(service, build())
    except Exception as e:  # noqa: BLE001
      self.pm = None
      self._bus_fault(f'publishing {service} failed: {e}', now)

  def _release_bus(self):
    """Stopped: closes our publishers and removes the rings nobody uses any
    more, then the prefix's whole directory (params, watchdog files, sockets)
    unless a live process still uses it, so a stop leaves no shared memory."""
    if not self.publish:
      return
    self.pm = None
    try:
      self.messaging.remove_unused_topics()
    except Exception as e:  # noqa: BLE001
      print(f'manager: cannot remove the unused rings: {e}', file=sys.stderr, flush=True)
    busy = shm.remove(prefix(), exclude=())
    if busy:
      print(f'manager: leaving {shm.prefix_dir(prefix())}: in use by '
            f'{", ".join(f"{n} ({pid})" for pid, n in busy.items())}', file=sys.stderr, flush=True)

  def _bus_fault(self, what, now):
    self.bus_faults += 1
    self.bus_retry_at = now + BUS_RETRY
    print(f'manager: bus fault #{self.bus_faults}: {what}; retrying in {BUS_RETRY:.0f} s, supervision goes on',
          file=sys.stderr, flush=True)

  # ------------------------------------------------------------------ output

  def _forward_output(self):
    while True:
      try:
        name, pid, stream, line = self.output.get_nowait()
      except queue.Empty:
        return
      if self.echo:
        print(f'[{name}] {line}', file=sys.stderr if stream == 'stderr' else sys.stdout, flush=True)
      self._send('logMessage', lambda: self._log_message(name, pid, stream, line))

  def _log_message(self, name, pid, stream, line):
    msg = self.messaging.new_message('logMessage', valid=True)
    lm = msg.logMessage
    lm.processName = name
    lm.pid = pid
    lm.monoTime = time.monotonic_ns()
    lm.wallTimeNanos = time.time_ns()
    lm.message = line
    lm.stream = 'log' if stream == 'manager' else stream
    lm.level = _level_of(line, stream)
    return msg

  def _publish_state(self, shutting_down=False):
    self._send('managerState', lambda: self._manager_state(shutting_down))

  def _manager_state(self, shutting_down):
    msg = self.messaging.new_message('managerState', valid=True)
    ms = msg.managerState
    ms.shuttingDown = shutting_down
    states = ms.init('processes', len(self.procs))
    for st, p in zip(states, self.procs):
      st.name = p.name
      st.pid = p.pid
      st.running = p.running()
      st.shouldBeRunning = p.should_run
      st.exitCode = p.exit_code if p.exit_code is not None else 0
      st.restartCount = p.restart_count
      st.lastRestartMonoTime = p.last_restart_ns
      st.nextRestartMonoTime = int(p.next_start * 1e9) if not p.running() and p.should_run else 0
      st.startMonoTime = int(p.start_time * 1e9)
      hb = p.heartbeat_ns()
      st.lastHeartbeatMonoTime = hb or 0
      if p.running():
        st.cpuUsagePercent = self.cpu.percent(p.pid)
        st.memoryRssKb = proc.rss_kb(p.pid) or 0
    self.cpu.forget_others([p.pid for p in self.procs if p.running()])
    return msg

  def _device_state(self):
    msg = self.messaging.new_message('deviceState', valid=True)
    self.device.fill(msg.deviceState)
    return msg

  # ------------------------------------------------------------------ supervision

  def _supervise(self, now):
    for p in self.procs:
      p.should_run = bool(p.spec.enabled(self.params)) and not p.finished
      if p.reap():
        clean = p.exit_code in CLEAN_EXITS
        self._note(p, f'exited with {_describe_exit(p.exit_code)}')
        if not clean:
          p.failed = True
        policy = p.spec.restart
        if p.should_run and (policy == 'always' or (policy == 'on-failure' and not clean)):
          p.schedule_restart(now)
          p.restart_count += 1
          p.last_restart_ns = 0
          self._note(p, f'restarting in {p.next_start - now:.1f} s (restart #{p.restart_count})')
        else:
          p.should_run = False
          p.finished = True  # its restart policy says it is done
      if p.should_run and not p.running() and now >= p.next_start:
        try:
          p.start(self.params)
        except OSError as e:
          self._note(p, f'cannot start: {e}')
          p.failed = True
          p.start_time = now  # a failed start counts as a crash of no run time
          p.schedule_restart(now)
          continue
        if p.restart_count:
          p.last_restart_ns = time.monotonic_ns()
      elif not p.should_run and p.running():
        self._stop([p])
      if p.watchdog_expired():
        self._note(p, f'no heartbeat for {p.spec.watchdog:.1f} s: killing it')
        p.failed = True
        p.signal(signal.SIGKILL)

  def _note(self, p, text):
    self.output.put((p.name, p.pid, 'manager', f'manager: {p.name} {text}'))

  def _stop(self, procs):
    for p in procs:
      p.signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(p.running() for p in procs) and time.monotonic() < deadline:
      self._forward_output()
      time.sleep(0.02)
    for p in procs:
      if p.running():
        self._note(p, f'did not stop within {STOP_TIMEOUT:.0f} s: SIGKILL')
        p.signal(signal.SIGKILL)
        p.failed = True
      if p.proc is not None:
        p.proc.wait()
        p.reap()
        if p.exit_code not in CLEAN_EXITS:
          p.failed = True
        self._note(p, f'stopped ({_describe_exit(p.exit_code)})')

  # ------------------------------------------------------------------ main loop

  def request_stop(self, signum, _frame=None):
    self.stop_requested = signum

  def run(self, duration=None) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM):
      signal.signal(sig, self.request_stop)
    end = time.monotonic() + duration if duration else float('inf')
    next_state = next_device = 0.0
    try:
      while not self.stop_requested and time.monotonic() < end:
        now = time.monotonic()
        self._supervise(now)
        self._forward_output()
        if now >= next_state:
          self._publish_state()
          next_state = now + STATE_PERIOD
        if now >= next_device:
          self._send('deviceState', self._device_state)
          next_device = now + DEVICE_PERIOD
        if self.on_tick:
          self.on_tick(self)
        time.sleep(0.05)
    finally:
      self._publish_state(shutting_down=True)
      self._stop([p for p in self.procs if p.running()])
      self._forward_output()
      self._publish_state(shutting_down=True)
      if hasattr(self.on_tick, 'close'):
        self.on_tick.close()  # its subscriptions would keep the bus in use
      self._release_bus()
    failed = [p.name for p in self.procs if p.failed]
    if failed:
      print(f'manager: processes that failed: {", ".join(failed)}', file=sys.stderr)
    return 1 if failed else 0


def new_route_name():
  """Local time, as loggerd names routes, and a random tag: two runs started in
  the same second get two routes."""
  return time.strftime('%Y-%m-%d--%H-%M-%S') + '_' + secrets.token_hex(2)


def _describe_exit(code):
  if code is None:
    return 'no exit code'
  return f'signal {signal.Signals(-code).name}' if code < 0 else f'exit code {code}'


def _level_of(line, stream):
  head = line[:16].lower()
  for word, level in (('critical', 'critical'), ('error', 'error'), ('warn', 'warning'), ('debug', 'debug')):
    if word in head:
      return level
  return 'warning' if stream == 'stderr' else 'info'


def main(argv=None):
  from manager.process_config import PROCESSES
  ap = argparse.ArgumentParser(description='Run the conduit processes of manager/process_config.py.')
  ap.add_argument('--duration', type=float, help='stop after this many seconds (default: until SIGINT/SIGTERM)')
  ap.add_argument('--only', help='comma-separated process names to run (default: all enabled)')
  args = ap.parse_args(argv)
  specs = PROCESSES
  if args.only:
    names = set(args.only.split(','))
    unknown = names - {s.name for s in specs}
    if unknown:
      ap.error(f'unknown process(es) {", ".join(sorted(unknown))}; known: {", ".join(s.name for s in specs)}')
    specs = [s for s in specs if s.name in names]
  try:
    shm_dir()  # refuses a directory another user made for us: say so once, before any child fails on it
  except PermissionError as e:
    sys.exit(f'manager: {e}')
  return Manager(specs).run(args.duration)


if __name__ == '__main__':
  sys.exit(main())
