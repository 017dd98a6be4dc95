"""Shared by every pytest test: a private CONDUIT_PREFIX per test (the fixture
`conduit_prefix` names it), so tests never see each other's shared memory, and
its shm directory is removed afterwards. The repository root is on PYTHONPATH
for the processes tests start."""
import itertools
import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
_counter = itertools.count()


@pytest.fixture(autouse=True)
def conduit_prefix(monkeypatch):
  prefix = f"pytest_{os.getpid()}_{next(_counter)}"
  monkeypatch.setenv("CONDUIT_PREFIX", prefix)
  monkeypatch.setenv("PYTHONPATH", ROOT)
  yield prefix
  shutil.rmtree(f"/dev/shm/conduit_{prefix}", ignore_errors=True)
