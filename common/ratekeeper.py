"""Runs a loop at a fixed rate and accounts for the time it falls behind
(the Python side of common/ratekeeper.h, same rules).

  rk = Ratekeeper(20)
  while running:
    work()
    rk.keep_time()   # sleeps to the next tick; True when this one came late

A late iteration does not make the next ones rush to catch up: the schedule
restarts one interval after it. lagged_frames counts late iterations, lag_s
sums how late they were, lagging says the last 100 took over 10% too long.
In lockstep (CONDUIT_LOCKSTEP=1, process replay) it never sleeps: the input
paces the process, not the clock.
"""
import time
from collections import deque


class Ratekeeper:
  def __init__(self, rate_hz, lockstep=None):
    if rate_hz <= 0:
      raise ValueError(f"Ratekeeper: rate must be > 0 Hz, got {rate_hz}")
    if lockstep is None:
      from cereal.messaging import lockstep_default
      lockstep = lockstep_default()
    self.interval_ns = int(1e9 / rate_hz)
    self.lockstep = lockstep
    self.frame = 0
    self.lagged_frames = 0
    self.lag_s = 0.0
    self.remaining = 0.0  # s to sleep after the last iteration
    self._next_ns = None
    self._last_ns = None
    self._periods = deque(maxlen=100)

  @property
  def lagging(self):
    return len(self._periods) > 0 and sum(self._periods) / len(self._periods) > 1.1 * self.interval_ns

  def monitor_time(self, now_ns=None):
    """keep_time()'s accounting at now_ns (default: now) without sleeping; True when late."""
    now = time.monotonic_ns() if now_ns is None else now_ns
    if self._last_ns is not None:
      self._periods.append(now - self._last_ns)
    self._last_ns = now
    if self._next_ns is None:
      self._next_ns = now + self.interval_ns
    late = now - self._next_ns
    if late > 0:
      self.lagged_frames += 1
      self.lag_s += late / 1e9
      self._next_ns = now + self.interval_ns
    else:
      self._next_ns += self.interval_ns
    self.remaining = max(0, -late) / 1e9
    self.frame += 1
    return late > 0

  def keep_time(self):
    lagged = self.monitor_time()
    if self.remaining > 0 and not self.lockstep:
      time.sleep(self.remaining)
    return lagged
