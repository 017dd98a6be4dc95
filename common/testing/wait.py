"""Waiting on a readiness condition instead of sleeping for a guessed time."""
import time


def wait_for(cond, timeout=10.0, interval=0.02):
  """Polls cond() until it is true (returns True) or `timeout` seconds pass (False)."""
  end = time.monotonic() + timeout
  while time.monotonic() < end:
    if cond():
      return True
    time.sleep(interval)
  return bool(cond())
