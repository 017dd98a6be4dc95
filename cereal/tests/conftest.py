import itertools
import os
import shutil

import pytest

_counter = itertools.count()


@pytest.fixture(autouse=True)
def conduit_prefix(monkeypatch):
  """A private CONDUIT_PREFIX per test; its shm directory is removed afterwards."""
  prefix = f"cerealpy_{os.getpid()}_{next(_counter)}"
  monkeypatch.setenv("CONDUIT_PREFIX", prefix)
  yield prefix
  shutil.rmtree(f"/dev/shm/conduit_{prefix}", ignore_errors=True)
