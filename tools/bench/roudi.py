"""An iox-roudi of a benchmark's own, for the iceoryx peers of the msgq and
VisionIPC benchmarks. iceoryx 2.0 has fixed machine-wide names (/tmp/roudi,
/dev/shm/iceoryx_mgmt): one RouDi per machine, so start() waits for another
one to finish rather than fight it, and raises RuntimeError with the reason
when it cannot have its own.

  with Roudi(tmpdir, mempools=[(128, 1000), (1049600, 16)]) as roudi: ...
"""
import os
import shutil
import signal
import subprocess
import time

from common.proc import alive

READY = 'RouDi is ready for clients'


def _other_roudis():
  out = subprocess.run(['pgrep', '-x', 'iox-roudi'], capture_output=True, text=True).stdout.split()
  return [pid for pid in out if alive(pid)]


class Roudi:
  def __init__(self, tmpdir, mempools):
    """mempools: (chunk size in bytes, chunk count) pairs of the one segment."""
    self.tmpdir = tmpdir
    self.mempools = mempools
    self.proc = None
    self.log_path = os.path.join(tmpdir, 'roudi.log')

  def start(self, wait_for_other_s=60.0, ready_timeout_s=15.0):
    exe = shutil.which('iox-roudi')
    if exe is None:
      raise RuntimeError('iox-roudi is not installed (Debian package iceoryx)')
    deadline = time.monotonic() + wait_for_other_s
    while (other := _other_roudis()):
      if time.monotonic() > deadline:
        raise RuntimeError(f'another iox-roudi is running (pid {", ".join(other)}); iceoryx 2.0 allows one per machine')
      time.sleep(0.5)
    config = os.path.join(self.tmpdir, 'roudi.toml')
    with open(config, 'w') as f:
      f.write('[general]\nversion = 1\n\n[[segment]]\n')
      for size, count in self.mempools:
        f.write(f'\n[[segment.mempool]]\nsize = {size}\ncount = {count}\n')
    with open(self.log_path, 'w') as out:
      self.proc = subprocess.Popen([exe, '-c', config, '-l', 'info'], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + ready_timeout_s
    while READY not in self.output():
      if self.proc.poll() is not None or time.monotonic() > deadline:
        self.stop()
        tail = ' | '.join(self.output().strip().splitlines()[-3:])
        raise RuntimeError(f'iox-roudi did not become ready within {ready_timeout_s:.0f} s: {tail}')
      time.sleep(0.02)
    return self

  def alive(self):
    return self.proc is not None and self.proc.poll() is None

  def output(self):
    try:
      with open(self.log_path, errors='replace') as f:
        return f.read()
    except FileNotFoundError:
      return ''

  def stop(self):
    if self.proc is None or self.proc.poll() is not None:
      return
    self.proc.send_signal(signal.SIGINT)  # RouDi shuts down cleanly and frees its shared memory
    try:
      self.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
      self.proc.kill()
      self.proc.wait()

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()
