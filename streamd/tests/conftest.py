"""Fixtures of the streamd tests: a recorded fixture route, a server on a free
port (stopped after the test, also on failure) and a raw HTTP client."""
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from common.testing.process import stop  # noqa: E402
from streamd.tests.http_client import get  # noqa: E402

BIN = os.path.join(ROOT, 'build', 'bin')


class Streamd:
  """build/bin/streamd on a free loopback port."""

  def __init__(self, *args, env=None):
    self.proc = subprocess.Popen([os.path.join(BIN, 'streamd'), '--port', '0', *map(str, args)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = self.proc.stdout.readline()
    m = re.search(r'http://127\.0\.0\.1:(\d+)/', line)
    if not m:
      self.stop()
      raise RuntimeError(f'streamd did not start: {line}{self.proc.stderr.read()}')
    self.port = int(m.group(1))

  def url(self, path):
    return f'http://127.0.0.1:{self.port}{path}'

  def stats(self):
    return json.loads(get(self.port, '/stats').body)

  def stop(self):
    return stop(self.proc)


@pytest.fixture
def streamd():
  """streamd(*args) starts a server; every one started is stopped after the test."""
  started = []

  def start(*args, env=None):
    s = Streamd(*args, env=env)
    started.append(s)
    return s

  yield start
  for s in started:
    assert s.stop() == 0, f'streamd exited with {s.proc.returncode}: {s.proc.stderr.read()}'


@pytest.fixture(scope='session')
def fixture_route(tmp_path_factory):
  """The synthetic fixture route (tools/replay/fixture_route.h): (log root, route name)."""
  root = tmp_path_factory.mktemp('streamd_routes')
  out = subprocess.run([os.path.join(BIN, 'replay_fixture'), '--dir', str(root)], capture_output=True, text=True,
                       check=True)
  return str(root), json.loads(out.stdout)['route']
