import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin')


@pytest.fixture(scope='session')
def route(tmp_path_factory):
  """The synthetic fixture route (tools/replay/fixture_route.h): 2 segments x 2 s,
  320x240 road video. Returns (log root, route path)."""
  root = tmp_path_factory.mktemp('routes')
  out = subprocess.run([os.path.join(BIN, 'replay_fixture'), '--dir', str(root)], capture_output=True, text=True,
                       check=True)
  info = json.loads(out.stdout)
  return str(root), os.path.join(str(root), info['route'])


@pytest.fixture(scope='session')
def tool():
  """tool(name, *args, check=True) runs tools/<name> (or build/bin/<name>)."""
  return run_tool


def run_tool(name, *args, check=True, timeout=60, **kw):
  """Runs tools/<name> (or build/bin/<name>) and returns the CompletedProcess."""
  exe = os.path.join(ROOT, 'tools', name)
  if not os.path.isfile(exe):
    exe = os.path.join(BIN, name)
  p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)
  if check and p.returncode != 0:
    raise AssertionError(f"{name} {' '.join(map(str, args))} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
  return p
