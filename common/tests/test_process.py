"""The Python process template: the rate keeper's lag accounting (driven with
explicit times), and a clean stop on SIGINT/SIGTERM with no traceback, also
when the process waits in lockstep."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import cereal.messaging as messaging
from common.ratekeeper import Ratekeeper

MS = 1_000_000


def test_ratekeeper_accounts_lag_without_catching_up():
  rk = Ratekeeper(100, lockstep=False)  # 10 ms
  t = 1000 * MS
  assert not rk.monitor_time(t) and rk.remaining == pytest.approx(0.010)  # sleep one interval
  assert not rk.monitor_time(t + 14 * MS) and rk.remaining == pytest.approx(0.006)  # due at t + 20
  assert rk.monitor_time(t + 55 * MS)  # due at t + 30: 25 ms late
  assert rk.lagged_frames == 1 and rk.lag_s == pytest.approx(0.025) and rk.remaining == 0
  assert not rk.monitor_time(t + 60 * MS) and rk.remaining == pytest.approx(0.005)  # restarted: due at t + 65
  assert rk.frame == 4 and rk.lagging  # periods 14, 41, 5 ms
  steady = Ratekeeper(100, lockstep=False)
  for i in range(150):
    steady.monitor_time(t + i * 10 * MS)
  assert not steady.lagging and steady.lagged_frames == 0
  with pytest.raises(ValueError):
    Ratekeeper(0)


CHILD = textwrap.dedent("""
  import cereal.messaging as messaging
  from common.process import Process
  proc = Process("child", rate_hz=1000)
  sm = messaging.SubMaster(["can"])
  while proc.running:
    sm.update(100)
    proc.tick()
  print("stopped by", proc.stop_signal, "after", proc.rk.frame, flush=True)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("lockstep", [False, True])
def test_process_stops_cleanly(sig, lockstep):
  pm = messaging.PubMaster(["can"])
  env = dict(os.environ, CONDUIT_LOCKSTEP="1" if lockstep else "0")
  proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
  try:
    if lockstep:
      assert pm.wait_lockstep("can", timeout=30)  # it waits for input, and only for that
    else:
      while pm.subscriber_count("can") == 0 and proc.poll() is None:
        pm.send("can", messaging.new_message("can", 0))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
  finally:
    proc.kill()
    proc.wait()
  assert proc.returncode == 0, err
  assert out.startswith(f"stopped by {int(sig)}") and "Traceback" not in err
