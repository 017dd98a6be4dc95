"""Child processes a test started: stopped for sure, also when the test fails."""
import signal
import subprocess


def stop(proc, sig=signal.SIGTERM, timeout=10):
  """Sends `sig` to a subprocess.Popen still running and waits; SIGKILL when it
  is still running after `timeout` seconds. Returns its exit code."""
  if proc.poll() is None:
    proc.send_signal(sig)
  try:
    proc.wait(timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
  return proc.returncode
