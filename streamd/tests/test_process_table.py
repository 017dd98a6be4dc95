"""streamd in the manager's process table: off unless ./launch --serve switched it on."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from manager.params import Params  # noqa: E402
from manager.process_config import PROCESSES  # noqa: E402


def test_streamd_runs_only_when_serving_is_switched_on(tmp_path):
  params = Params(str(tmp_path))
  streamd = next(p for p in PROCESSES if p.name == 'streamd')
  assert not streamd.enabled(params)
  params.put('ServeEnabled', True)
  params.put('ServePort', 9123)
  params.put('LogRoot', '/some/routes')
  assert streamd.enabled(params)
  argv = streamd.command(params)
  assert argv[0].endswith('build/bin/streamd') and argv[argv.index('--port') + 1] == '9123'
  assert '--bind' not in argv  # loopback, the default
  assert streamd.env(params) == {'CONDUIT_LOG_ROOT': '/some/routes'}
