"""Chaos case `disk_full`: the log disk (a small tmpfs) fills up mid-route for a
few seconds and frees again. Afterwards no file may be corrupt: every log
readable, every video decodable without an error (after the gap a stream goes
on at a keyframe with its header), and loggerd must have counted what it lost.
Needs root (mount); without it the case reports nothing and says why.
"""
import os
import sys
import tempfile
import time

from selfdrive_tests.chaos import checks, faults
from selfdrive_tests.chaos.pipeline import ChaosPipeline


def run(full_s=6.0, before_s=8.0, after_s=10.0, tmp=None):
  """Returns (figures, segment reports)."""
  with tempfile.TemporaryDirectory(prefix='chaos_disk_', dir=tmp) as d:
    with faults.small_tmpfs(os.path.join(d, 'disk'), 64) as disk:
      with ChaosPipeline(d, log_root=os.path.join(disk, 'routes')) as p:
        if not p.wait_all_up():
          raise RuntimeError(f'the pipeline did not come up:\n{p.manager_log()}')
        time.sleep(before_s)
        before = p.latest('loggerdState')
        filler = faults.fill_disk(disk)
        time.sleep(full_s)
        os.unlink(filler)
        time.sleep(after_s)
        after = p.latest('loggerdState')
        p.stop()
        segs = [checks.segment_report(s) for s in checks.segment_dirs(p.log_root)]
  files = [(s['dir'], f, v) for s in segs for f, v in s['videos'].items()]
  corrupt = [f'{d}/{f}: {v}' for d, f, v in files if not checks.video_ok(v)]
  corrupt += [f"{s['dir']}: {s['why']}" for s in segs if not s['readable']]
  dropped = (after['droppedBytes'] - before['droppedBytes']) if after is not None and before is not None else 0
  fig = {'corrupt_files': len(corrupt), 'dropped_counted': dropped, 'segments': len(segs), 'videos': len(files),
         'corrupt': corrupt}
  return fig, segs


def rows():
  if not faults.can_mount():
    print('chaos disk_full: skipped: mounting a tmpfs needs root', file=sys.stderr)
    return []
  fig, _ = run()
  return [{'bench': 'chaos', 'impl': 'pipeline', 'case': 'disk_full', 'metric': 'corrupt_files',
           'value': float(fig['corrupt_files']), 'unit': 'count'},
          {'bench': 'chaos', 'impl': 'pipeline', 'case': 'disk_full', 'metric': 'dropped_counted',
           'value': float(fig['dropped_counted']), 'unit': 'bytes'}]
