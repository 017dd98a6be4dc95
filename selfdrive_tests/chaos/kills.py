"""Chaos case `kills`: random SIGKILLs under the manager, then the manager
itself killed; every process must come back, every segment stay readable, no
torn message reach the checksummed subscriber, no child outlive the manager.

Restart latency is timed from the SIGKILL to the start of the new process
(pipeline.py) and reported for processes that had run >= 10 s (the manager's
STABLE_AFTER: a kill of a younger process is a crash loop, backed off on purpose).
"""
import statistics
import tempfile
import time

from selfdrive_tests.chaos import checks, checksum
from selfdrive_tests.chaos.pipeline import SIGNATURES, ChaosPipeline

STABLE_S = 10.0
VICTIMS = tuple(SIGNATURES)


def kill_rounds(p, rounds, rng, pause=(0.3, 1.5)):
  """SIGKILLs a random child `rounds` times (half the time one that has run >=
  10 s, when there is one); returns one dict per round."""
  out = []
  for _ in range(rounds):
    procs = p.procs()
    if not procs:
      time.sleep(0.2)
      continue
    stable = [n for n, pid in procs.items() if (p.uptime(pid) or 0) >= STABLE_S]
    name = rng.choice(stable) if stable and rng.random() < 0.5 else rng.choice(sorted(procs))
    ran, ms = p.kill(name)
    out.append({'name': name, 'ran_s': ran, 'restart_ms': ms})
    time.sleep(rng.uniform(*pause))
  return out


def percentile(values, q):
  if not values:
    return float('nan')
  v = sorted(values)
  return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def summarize(kills):
  stable = [k['restart_ms'] for k in kills if k['ran_s'] is not None and k['ran_s'] >= STABLE_S and k['restart_ms'] is not None]
  return {
    'rounds': len(kills),
    'restarted': sum(k['restart_ms'] is not None for k in kills) / max(1, len(kills)),
    'stable_kills': len(stable),
    'restart_p50_ms': statistics.median(stable) if stable else float('nan'),
    'restart_p99_ms': percentile(stable, 99),
  }


def run(rounds, seed=1, tmp=None):
  """The whole case on a fresh pipeline; returns its figures and the details behind them."""
  import random
  rng = random.Random(seed)
  with tempfile.TemporaryDirectory(prefix='chaos_kills_', dir=tmp) as d, ChaosPipeline(d) as p:
    if not p.wait_all_up():
      raise RuntimeError(f'the pipeline did not come up:\n{p.manager_log()}')
    time.sleep(STABLE_S)  # the first kills find processes that ran 10 s
    kills = kill_rounds(p, rounds, rng)
    back = p.wait_all_up(30)
    p.stop(9)  # the manager itself, SIGKILLed
    orphans = p.orphans(grace=15.0)
    segs = [checks.segment_report(s) for s in checks.segment_dirs(p.log_root)]
    torn = checksum.read_stats(p.stats_dir)['torn']
  fig = summarize(kills)
  fig.update(all_back=back, segments=len(segs),
             segments_readable=sum(s['readable'] for s in segs) / max(1, len(segs)),
             videos_ok=sum(checks.video_ok(v) for s in segs for v in s['videos'].values()),
             videos=sum(len(s['videos']) for s in segs), torn_messages=torn, orphans=len(orphans))
  return fig, kills, segs


def rows(rounds=20, seed=1):
  fig, _, _ = run(rounds, seed)
  units = {'rounds': 'count', 'restarted': 'fraction', 'restart_p50_ms': 'ms', 'restart_p99_ms': 'ms',
           'segments_readable': 'fraction', 'torn_messages': 'count', 'orphans': 'count'}
  return [{'bench': 'chaos', 'impl': 'pipeline', 'case': 'kills', 'metric': m, 'value': float(fig[m]), 'unit': u}
          for m, u in units.items()]
