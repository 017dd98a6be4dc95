"""common.proc: the /proc facts the manager's tests and benchmarks use."""
import os
import subprocess

from common.proc import alive, children


def test_children_lists_a_child_until_it_is_reaped():
  child = subprocess.Popen(['sleep', '30'])
  try:
    assert child.pid in children(os.getpid())
    assert alive(child.pid)
  finally:
    child.kill()
    child.wait()
  assert child.pid not in children(os.getpid())
  assert not alive(child.pid)
