"""Chaos case `poison`: liveCalibration Events whose head is sound but whose
warp matrix pointer is bad (common/testing/poison.py), published into the
running pipeline among good ones. No consumer may crash (modeld reads
liveCalibration), modelV2 must keep flowing, and such events, put into a
recorded log, must cost the readers exactly themselves: every other event is
still read (LogReader, lr)."""
import os
import random
import subprocess
import tempfile
import time

from selfdrive_tests.chaos.pipeline import ChaosPipeline, ROOT


def _publish(p, poisoned, good):
  """Sends `poisoned` bad and `good` good liveCalibration messages, interleaved, 10 a second."""
  os.environ['CONDUIT_PREFIX'] = p.prefix
  import cereal.messaging as messaging
  from common.testing import poison
  sock = messaging.pub_sock('liveCalibration')
  order = [True] * poisoned + [False] * good
  random.Random(7).shuffle(order)
  for bad in order:
    sock.send(poison.calibration(messaging, poisoned=bad))
    time.sleep(0.1)


def _reader_losses(log, inject, tmp):
  """Events of `log` that LogReader and lr no longer yield once `inject` poisoned events are put among them."""
  import cereal.messaging as messaging
  from common.testing import poison
  from loggerd import logreader_ext
  from loggerd.logreader import LogReader
  events = list(LogReader(log, raw=True))
  mixed = list(events)
  rng = random.Random(11)
  for _ in range(inject):
    mixed.insert(rng.randrange(1, len(mixed)), poison.calibration(messaging, poisoned=True))
  path = os.path.join(tmp, 'poisoned_rlog.zst')
  logreader_ext.write_log(path, mixed)
  import warnings
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    lr = LogReader(path)
    read = sum(1 for _ in lr)
  out = subprocess.run([os.path.join(ROOT, 'build', 'bin', 'lr'), path], capture_output=True, text=True, timeout=120)
  lr_lines = len(out.stdout.splitlines())
  return {'events': len(events), 'logreader_lost': len(events) - read, 'lr_lost': len(events) - lr_lines,
          'bad_counted': lr.bad_events}


def run(poisoned=5, good=25, inject=5, tmp=None):
  with tempfile.TemporaryDirectory(prefix='chaos_poison_', dir=tmp) as d:
    with ChaosPipeline(d) as p:
      if not p.wait_all_up():
        raise RuntimeError(f'the pipeline did not come up:\n{p.manager_log()}')
      before = p.procs()
      _publish(p, poisoned, good)
      time.sleep(1.0)
      after = p.procs()
      model_hz = p.rates(['modelV2'], 2.0)['modelV2']
      p.stop()
      crashes = sum(1 for name, pid in before.items() if after.get(name) != pid)
      from selfdrive_tests.chaos import checks
      segs = checks.segment_dirs(p.log_root)
      losses = _reader_losses(os.path.join(segs[0], 'rlog.zst'), inject, d)
  return {'consumer_crashes': crashes, 'model_hz_after': model_hz, **losses,
          'events_lost_in_readers': max(losses['logreader_lost'], losses['lr_lost'])}


def rows():
  fig = run()

  def row(metric, unit):
    return {'bench': 'chaos', 'impl': 'pipeline', 'case': 'poison', 'metric': metric, 'value': float(fig[metric]),
            'unit': unit}

  return [row('consumer_crashes', 'count'), row('events_lost_in_readers', 'count')]
