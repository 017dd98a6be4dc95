"""common/prefix.py: a shm directory that was there before us is used only if it is ours and private."""
import os
import shutil

import pytest

from common import prefix


@pytest.fixture
def shm(monkeypatch):
  name = f'prefixpy_{os.getpid()}'
  monkeypatch.setenv('CONDUIT_PREFIX', name)
  d = f'/dev/shm/conduit_{name}'
  shutil.rmtree(d, ignore_errors=True)
  yield d
  shutil.rmtree(d, ignore_errors=True)


def test_creates_a_private_directory(shm):
  assert prefix.shm_dir() == shm
  st = os.stat(shm)
  assert st.st_mode & 0o777 == 0o700 and st.st_uid == os.geteuid()


def test_refuses_a_directory_others_can_enter(shm):
  os.mkdir(shm)
  os.chmod(shm, 0o777)
  with pytest.raises(PermissionError, match=r'can be entered by other users \(uid \d+, mode 0777\).*CONDUIT_PREFIX'):
    prefix.shm_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason='giving a directory to another user needs root')
def test_refuses_another_users_directory(shm):
  os.mkdir(shm, 0o700)
  os.chown(shm, 65534, 65534)
  with pytest.raises(PermissionError, match=r'is owned by another user \(uid 65534'):
    prefix.shm_dir()


def test_the_bus_refuses_a_squatted_directory_too(shm):
  """The C++ side (msgq, through the Python binding) applies the same rule."""
  messaging = pytest.importorskip('cereal.messaging')
  os.mkdir(shm)
  os.chmod(shm, 0o777)
  with pytest.raises(Exception, match='can be entered by other users'):
    messaging.pub_sock('can')


def test_the_manager_refuses_a_squatted_directory_with_one_clear_line(shm):
  import subprocess
  import sys
  os.mkdir(shm)
  os.chmod(shm, 0o777)
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out = subprocess.run([sys.executable, '-m', 'manager.manager', '--duration', '1'], cwd=root, capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, PYTHONPATH=root))
  assert out.returncode == 1
  assert out.stderr.startswith('manager: ') and 'can be entered by other users' in out.stderr
  assert 'Traceback' not in out.stderr


# One naming rule, two implementations: common/prefix.py, and common/prefix.cc
# (msgq checks topic names with it, reached here through the binding).
NAMES = {
  'a': True, 'a.b': True, 'A-9_z': True, 'x' * 128: True,
  '': False, '.': False, '..': False, 'a..b': False, 'a/b': False, 'x' * 129: False, 'a b': False, 'é': False,
}


@pytest.mark.parametrize('name,valid', NAMES.items())
def test_python_and_cpp_accept_the_same_names(name, valid, conduit_prefix):
  from cereal._cereal import PubSocket
  try:
    prefix.check_name(name, 'name')
    python_ok = True
  except ValueError as e:
    python_ok = False
    assert "not '.', no '/' or '..'" in str(e)
  try:
    PubSocket(name, 64 * 1024)
    cpp_ok = True
  except Exception as e:  # noqa: BLE001 - the binding's error type is not the point here
    cpp_ok = False
    assert "not '.', no '/' or '..'" in str(e)
  assert (python_ok, cpp_ok) == (valid, valid)
