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


def wait_for_messages(sm, cond=None, timeout=10.0):
  """Updates the SubMaster `sm` until cond(sm) holds, by default until every
  one of its services has sent a message; returns whether it did in time."""
  def check():
    sm.update(0)
    return cond(sm) if cond else all(sm.seen[s] for s in sm.services)
  return wait_for(check, timeout)
