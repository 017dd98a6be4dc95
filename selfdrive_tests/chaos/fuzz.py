"""Chaos case `fuzz`: every libFuzzer target (tools/lib/fuzz.py) run for
CHAOS_FUZZ_SECONDS each (default 600, the issue's long run); rows per target
(impl = target): execs, crashes."""
import os

from tools.lib import fuzz


def rows(seconds=None):
  return fuzz.rows(seconds or int(os.environ.get('CHAOS_FUZZ_SECONDS', 600)))
