"""A manager over a process table given as JSON on the command line, for tests:
  fake_manager.py '[{"name": "a", "argv": [...], "restart": "always", "watchdog": 0}]' [--publish]"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..'))
from manager.manager import Manager  # noqa: E402
from manager.process import ProcessSpec  # noqa: E402

specs = [ProcessSpec(**row) for row in json.loads(sys.argv[1])]
print(f'manager pid {os.getpid()}', flush=True)
sys.exit(Manager(specs, publish='--publish' in sys.argv).run())
