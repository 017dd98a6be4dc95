"""tools/bench/run chaos: the chaos suite's figures (bench "chaos").

Each case is a module selfdrive_tests/chaos/<case>.py defining
rows(**options) -> list of rows; add a case by adding its module and its name
to CASES. CHAOS_CASES=kills,disk_full picks cases; CHAOS_ROUNDS sets the kill
rounds (default 500, the issue's long run; ./test.sh runs 20 in
selfdrive_tests/chaos/test_chaos.py); CHAOS_FUZZ_SECONDS the time per fuzz
target (default 600).
"""
import importlib
import os

CASES = ['kills', 'disk_full', 'poison', 'fuzz']


def run():
  picked = [c for c in os.environ.get('CHAOS_CASES', ','.join(CASES)).split(',') if c]
  unknown = sorted(set(picked) - set(CASES))
  if unknown:
    raise SystemExit(f'chaos: unknown case(s) {unknown}; known: {CASES}')
  options = {'kills': {'rounds': int(os.environ.get('CHAOS_ROUNDS', 500))}}
  rows = []
  for case in picked:
    rows += importlib.import_module(f'selfdrive_tests.chaos.{case}').rows(**options.get(case, {}))
  return rows
