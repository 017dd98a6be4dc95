"""Python LogReader: round trip, damage (truncated, bit flip, empty), specs, and
loggerd's own output after a clean stop."""
import os
import random
import signal
import struct
import subprocess
import warnings

import pytest

from loggerd import logreader_ext
from common.testing.wait import wait_for, wait_for_messages
from loggerd.logreader import LogReader, resolve_logs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def fake_event(rng, words):
  return struct.pack('<II', 0, words) + bytes(rng.getrandbits(8) & 0x0f for _ in range(8 * words))


def make_log(path, n=600, seed=1):
  rng = random.Random(seed)
  events = [fake_event(rng, 1 + rng.randrange(30)) for _ in range(n)]
  logreader_ext.write_log(str(path), events, frame_events=25)
  return events


def test_round_trip(tmp_path):
  events = make_log(tmp_path / 'rlog.zst')
  lr = LogReader(tmp_path / 'rlog.zst', raw=True)
  assert list(lr) == events
  assert lr.warnings == []
  assert not (tmp_path / 'rlog.zst.lock').exists()


def test_uninitialized_reader_is_refused(tmp_path):
  """LogFileReader.__new__ without __init__ has no C++ reader behind it: a TypeError, never a crash."""
  class Reader(logreader_ext.LogFileReader):
    pass
  for cls in (logreader_ext.LogFileReader, Reader):
    with pytest.raises(TypeError, match='never initialized'):
      cls.__new__(cls).events
    with pytest.raises(TypeError, match='never initialized'):
      list(cls.__new__(cls))
    with pytest.raises(TypeError, match='never initialized'):
      next(cls.__new__(cls))
  events = make_log(tmp_path / 'rlog.zst')
  assert list(Reader(str(tmp_path / 'rlog.zst'))) == events


def test_truncated_gives_intact_prefix_and_warning(tmp_path):
  events = make_log(tmp_path / 'rlog.zst')
  data = (tmp_path / 'rlog.zst').read_bytes()
  rng = random.Random(3)
  for _ in range(20):
    cut = rng.randrange(1, len(data))
    (tmp_path / 'cut.zst').write_bytes(data[:cut])
    lr = LogReader(tmp_path / 'cut.zst', raw=True)
    with pytest.warns(RuntimeWarning, match='truncated'):
      got = list(lr)
    assert got == events[:len(got)]
    assert len(got) < len(events)
    assert len(lr.warnings) == 1


def test_bit_flip_never_yields_garbage(tmp_path):
  events = make_log(tmp_path / 'rlog.zst')
  data = bytearray((tmp_path / 'rlog.zst').read_bytes())
  rng = random.Random(4)
  for _ in range(30):
    bad = bytearray(data)
    at = rng.randrange(len(bad))
    bad[at] ^= 1 << rng.randrange(8)
    (tmp_path / 'flip.zst').write_bytes(bytes(bad))
    lr = LogReader(tmp_path / 'flip.zst', raw=True)
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      got = list(lr)
    assert got == events[:len(got)], f'flip at {at} produced an event that was never written'
    if len(got) < len(events):
      assert lr.warnings, f'flip at {at} lost events without a warning'


def test_empty_file_warns(tmp_path):
  (tmp_path / 'rlog.zst').write_bytes(b'')
  lr = LogReader(tmp_path / 'rlog.zst', raw=True)
  with pytest.warns(RuntimeWarning, match='empty'):
    assert list(lr) == []


def test_strict_raises(tmp_path):
  make_log(tmp_path / 'rlog.zst')
  data = (tmp_path / 'rlog.zst').read_bytes()
  (tmp_path / 'cut.zst').write_bytes(data[:-7])
  with pytest.raises(RuntimeError, match='truncated'):
    list(LogReader(tmp_path / 'cut.zst', raw=True, strict=True))


def test_route_specs_and_ranges(tmp_path):
  per_seg = {}
  for n in range(4):
    (tmp_path / f'rt--{n}').mkdir()
    per_seg[n] = make_log(tmp_path / f'rt--{n}' / 'rlog.zst', n=50, seed=n)
  assert list(LogReader(tmp_path / 'rt', raw=True)) == sum((per_seg[n] for n in range(4)), [])
  assert list(LogReader(f'{tmp_path}/rt/1:3', raw=True)) == per_seg[1] + per_seg[2]
  assert list(LogReader(tmp_path / 'rt--3', raw=True)) == per_seg[3]
  files, missing = resolve_logs(tmp_path / 'rt', qlog=True)
  assert files == [] and len(missing) == 4
  with pytest.warns(RuntimeWarning, match='no qlog'), pytest.raises(ValueError, match='names no log file'):
    LogReader(tmp_path / 'rt', raw=True, qlog=True)
  with pytest.raises(ValueError, match='found no segments'):
    LogReader(tmp_path / 'nothing', raw=True)


def test_write_log_rejects_non_messages(tmp_path):
  with pytest.raises(ValueError, match='not one Cap'):
    logreader_ext.write_log(str(tmp_path / 'x.zst'), [b'1234567'])


def _messaging():
  try:
    import cereal.messaging as messaging
    return messaging
  except ImportError:
    pytest.skip('cereal.messaging (Python bindings) not built')


def test_decoded_events_and_qlog_decimation(tmp_path):
  messaging = _messaging()
  published = []

  def publish():
    pm = messaging.PubMaster(['can'])
    for i in range(250):
      msg = messaging.new_message('can', 1)
      msg.can[0].address = i
      pm.send('can', msg)
      published.append(i)

  rc, err = _run_loggerd(tmp_path, during=publish)
  assert rc == 0, err
  seg = tmp_path / 'py--0'
  rlog = list(LogReader(seg))
  assert [e.which() for e in rlog[:2]] == ['initData', 'sentinel']
  assert rlog[0].initData.routeName == 'py'
  assert rlog[-1].which() == 'sentinel' and rlog[-1].sentinel.signal == signal.SIGTERM
  assert [e.can[0].address for e in rlog if e.which() == 'can'] == published
  qlog_can = [e.can[0].address for e in LogReader(seg, qlog=True, only=['can'])]
  assert qlog_can == [0, 100, 200]  # decimation 100 from cereal/services.py


def _read_quietly(path):
  """The events of a log loggerd is still writing (its unfinished end is no warning here)."""
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return list(LogReader(path))


def _run_loggerd(root, during=None):
  # loggerd runs under the test's CONDUIT_PREFIX (conftest.py), so `during` publishes on its bus;
  # what is on the bus when the SIGTERM comes is logged (loggerd drains its sockets then).
  env = dict(os.environ, CONDUIT_LOG_ROOT=str(root), LOGGERD_ROUTE='py')
  p = subprocess.Popen([os.path.join(ROOT, 'build', 'bin', 'loggerd')], env=env, stderr=subprocess.PIPE)
  try:
    assert wait_for((root / 'py--0' / 'rlog.zst').exists, 20), 'loggerd did not start'
    if during:
      during()
  finally:
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
  return p.returncode, err.decode()


def test_loggerd_clean_stop_leaves_no_locks_and_a_readable_route(tmp_path):
  state = _messaging().SubMaster(['loggerdState'])

  def first_state():  # sent once a second
    assert wait_for_messages(state, timeout=20), 'no loggerdState'

  rc, err = _run_loggerd(tmp_path, during=first_state)
  assert rc == 0, err
  assert list(tmp_path.rglob('*.lock')) == []
  for log in ('rlog.zst', 'qlog.zst'):
    lr = LogReader(tmp_path / 'py--0' / log, raw=True)
    events = list(lr)
    assert lr.warnings == []
    assert len(events) >= 4  # initData, sentinel, loggerdState, sentinel


def test_a_restarted_loggerd_continues_its_route_and_clears_the_stale_locks(tmp_path):
  # A SIGKILLed loggerd leaves py--0 without its end sentinel and with lock files
  # nobody holds; started again under the same route name (the manager's run) it
  # continues the route with py--1 and removes those locks.
  env = dict(os.environ, CONDUIT_LOG_ROOT=str(tmp_path), LOGGERD_ROUTE='py')
  p = subprocess.Popen([os.path.join(ROOT, 'build', 'bin', 'loggerd')], env=env, stderr=subprocess.DEVNULL)
  try:
    rlog = tmp_path / 'py--0' / 'rlog.zst'
    assert wait_for(lambda: rlog.exists() and len(_read_quietly(rlog)) > 2, 20), 'nothing after the start sentinel'
  finally:
    p.kill()
    p.wait()
  assert sorted(f.name for f in (tmp_path / 'py--0').glob('*.lock')) == ['qlog.zst.lock', 'rlog.zst.lock']
  p = subprocess.Popen([os.path.join(ROOT, 'build', 'bin', 'loggerd')], env=env, stderr=subprocess.PIPE)
  try:
    wait_for((tmp_path / 'py--1' / 'rlog.zst').exists, 20)
    wait_for(lambda: not list((tmp_path / 'py--0').glob('*.lock')), 20)
  finally:
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    err = err.decode()
  assert p.returncode == 0, err
  assert 'removed stale lock' in err and 'from segment 1 (continued)' in err, err
  assert sorted(d.name for d in tmp_path.iterdir()) == ['py--0', 'py--1']
  assert list(tmp_path.rglob('*.lock')) == []
  first = list(LogReader(tmp_path / 'py--0'))
  assert first and first[-1].which() != 'sentinel', 'a killed loggerd wrote no end sentinel'
  second = list(LogReader(tmp_path / 'py--1'))
  assert second[1].which() == 'sentinel' and str(second[1].sentinel.type) == 'startOfSegment'
  assert second[1].sentinel.segmentNum == 1
  assert str(second[-1].sentinel.type) == 'endOfRoute'


def _log_with_poison(messaging, path, n=40, bad_at=(3, 17)):
  """A log of n liveCalibration events whose event i has calPerc i, poisoned at `bad_at`."""
  from common.testing import poison
  events = []
  for i in range(n):
    if i in bad_at:
      data = poison.calibration(messaging, poisoned=True)
    else:  # calPerc marks the event's index
      msg = messaging.new_message('liveCalibration')
      msg.liveCalibration.calPerc = i
      data = msg.to_bytes()
    events.append(data)
  logreader_ext.write_log(str(path), events, frame_events=8)
  return events


def test_an_unreadable_event_is_skipped_alone_and_counted(tmp_path):
  """A well-framed event with a bad pointer costs that event, not the rest of the file."""
  messaging = _messaging()
  _log_with_poison(messaging, tmp_path / 'rlog.zst')
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    lr = LogReader(tmp_path / 'rlog.zst')
    got = [ev.liveCalibration.calPerc for ev in lr]
  assert got == [i for i in range(40) if i not in (3, 17)]
  assert lr.bad_events == 2
  assert len(lr.warnings) == 2 and 'event 3 ' in lr.warnings[0] and 'event 17 ' in lr.warnings[1]
  assert all('skipped' in w for w in lr.warnings) and len(caught) == 2
  with pytest.raises(RuntimeError, match='event 3 is not a readable Event'):
    list(LogReader(tmp_path / 'rlog.zst', strict=True))


def test_lr_skips_an_unreadable_event_and_says_where(tmp_path):
  messaging = _messaging()
  _log_with_poison(messaging, tmp_path / 'rlog.zst')
  out = subprocess.run([os.path.join(ROOT, 'build', 'bin', 'lr'), str(tmp_path / 'rlog.zst')],
                       capture_output=True, text=True, timeout=30)
  assert out.returncode == 1  # warnings were printed
  assert len(out.stdout.splitlines()) == 38
  assert 'event 3 is not a readable Event' in out.stderr and 'event 17 is not a readable Event' in out.stderr
  assert 'skipped 2 unreadable event(s)' in out.stderr
  assert '0x' not in out.stderr and 'stack' not in out.stderr  # a sentence, not a capnp assertion dump


def test_loggerd_keeps_unreadable_events_out_of_the_log(tmp_path):
  messaging = _messaging()
  from common.testing import poison

  def publish():
    sock = messaging.pub_sock('liveCalibration')
    for i in range(30):
      if i % 10 == 5:
        sock.send(poison.calibration(messaging, poisoned=True))
      else:
        msg = messaging.new_message('liveCalibration')
        msg.liveCalibration.calPerc = i
        sock.send(msg.to_bytes())

  rc, err = _run_loggerd(tmp_path, during=publish)
  assert rc == 0, err
  lr = LogReader(tmp_path / 'py--0')
  cal = [e.liveCalibration.calPerc for e in lr if e.which() == 'liveCalibration']
  assert cal == [i for i in range(30) if i % 10 != 5]
  assert lr.bad_events == 0 and lr.warnings == []
  assert 'keeping an invalid liveCalibration message out of the log' in err


def test_lr_help_unknown_services_and_route_names_under_the_log_root(tmp_path):
  lr = os.path.join(ROOT, 'build', 'bin', 'lr')
  out = subprocess.run([lr, '--help'], capture_output=True, text=True, timeout=30)
  assert out.returncode == 0 and out.stdout.startswith('usage: lr')
  messaging = _messaging()
  seg = tmp_path / 'myroute--0'
  seg.mkdir()
  _log_with_poison(messaging, seg / 'rlog.zst', bad_at=())
  out = subprocess.run([lr, '--only', 'liveCalibratoin', str(seg)], capture_output=True, text=True, timeout=30)
  assert out.returncode == 2
  assert "no such service: 'liveCalibratoin' (did you mean 'liveCalibration'?)" in out.stderr
  env = dict(os.environ, CONDUIT_LOG_ROOT=str(tmp_path))
  out = subprocess.run([lr, 'myroute/0'], capture_output=True, text=True, timeout=30, env=env, cwd='/')
  assert out.returncode == 0, out.stderr
  assert len(out.stdout.splitlines()) == 40
