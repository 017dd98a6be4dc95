"""The replay program and the live tools (dump, hz, bw, topics) against a replay of
the fixture route on a private CONDUIT_PREFIX. Rates are checked with generous
bounds (the machine is shared); sizes and contents exactly."""
import json
import os
import signal
import subprocess

import pytest

from cereal.messaging import SubMaster, log_from_bytes
from common.testing.process import stop
from common.testing.wait import wait_for_messages
from loggerd.logreader import LogReader

BIN = os.path.join(os.path.dirname(__file__), '..', '..', 'build', 'bin')


@pytest.fixture
def replaying(route, conduit_prefix):
  """The fixture route replayed in a loop at 1x without video, for live tools."""
  root, path = route
  heard = SubMaster(['sensorEvents', 'can', 'roadCameraState', 'deviceState'])  # what the tests read
  p = subprocess.Popen([os.path.join(BIN, 'replay'), '--loop', '--no-vipc', '--prefix', conduit_prefix, path],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    assert wait_for_messages(heard, timeout=20), f'replay did not start publishing: {p.poll()}'
    del heard
    yield p
  finally:
    stop(p, signal.SIGINT)


def logged(path, service):
  return [bytes(b) for b in LogReader(path, raw=True) if log_from_bytes(b).which() == service]


def test_replay_program_plays_everything_then_reports(route, tool, conduit_prefix):
  _, path = route
  p = tool('replay', '--fast', '--prefix', conduit_prefix, path, stdin=subprocess.DEVNULL)
  line = [ln for ln in p.stdout.splitlines() if ln.startswith('replay: finished:')][0]
  stats = dict(kv.split('=') for kv in line.split(': ', 2)[2].split())
  assert int(stats['messages']) == 774
  assert int(stats['frames']) == 80
  assert int(stats['frame_errors']) == 0 and int(stats['segments_skipped']) == 0
  assert abs(float(stats['route_s']) - 4.0) < 0.01

  p = tool('replay', '--fast', '--no-vipc', '--allow', 'can,deviceState', path, stdin=subprocess.DEVNULL)
  assert 'messages=208 ' in p.stdout
  p = tool('replay', '--fast', '--no-vipc', '--block', 'sensorEvents', f'{path}/1', stdin=subprocess.DEVNULL)
  assert 'messages=187 ' in p.stdout


def test_replay_program_bad_input(route, tool):
  _, path = route
  for args, needle in [(('--speed', '50', path), 'out of range'),
                       (('--allow', 'nosuch', path), "unknown service 'nosuch'"),
                       ((path + '_nope',), 'route not found'),
                       (('--start', 'abc', path), 'expects a number'),
                       (('--start', '100', path), 'past the end of the route'),
                       (('--bogus', path), 'unknown option --bogus'),
                       (('--prefix', '../x', path), '--prefix')]:
    p = tool('replay', *args, check=False, stdin=subprocess.DEVNULL)
    assert p.returncode != 0, args
    assert needle in p.stderr, (args, p.stderr)


def test_dump_prints_the_replayed_messages(route, replaying, tool):
  _, path = route
  p = tool('dump', '--json', '-n', '5', '--timeout', '5', 'can')
  msgs = [json.loads(ln) for ln in p.stdout.splitlines()]
  assert len(msgs) == 5
  for m in msgs:
    # address = 0x100 + j % 4 with j = the sensor tick, whose bytes are `dat`.
    j = int(m['logMonoTime']) // 10_000_000 % 400
    assert m['can'][0]['address'] == 0x100 + j % 4
  text = tool('dump', '-n', '1', '--timeout', '5', 'deviceState').stdout
  assert 'memoryUsagePercent' in text
  p = tool('dump', 'nosuch', check=False)
  assert p.returncode == 2 and 'unknown service nosuch' in p.stderr


def test_hz_and_bw_measure_the_replayed_rates(route, replaying, tool):
  _, path = route
  rows = [json.loads(ln) for ln in tool('hz', '--json', '--duration', '2.05', 'sensorEvents', 'can').stdout.splitlines()]
  last = {r['topic']: r for r in rows}
  assert 70 < last['sensorEvents']['hz'] < 130, last
  assert 35 < last['can']['hz'] < 65, last
  assert abs(last['sensorEvents']['mean_ms'] - 10) < 3
  assert last['sensorEvents']['lost'] == 0

  sizes = {len(b) for b in logged(path, 'sensorEvents')}
  rows = [json.loads(ln) for ln in tool('bw', '--json', '--duration', '1.05', 'sensorEvents').stdout.splitlines()]
  bw = rows[-1]
  assert bw['min_bytes'] == min(sizes) and bw['max_bytes'] == max(sizes)
  assert 0.7 * 100 * min(sizes) < bw['bytes_per_s'] < 1.3 * 100 * max(sizes)


def test_topics_lists_live_publishers(route, replaying, tool):
  rows = {r['name']: r for r in map(json.loads, tool('topics', '--json', '--interval', '1').stdout.splitlines())}
  assert {'sensorEvents', 'can', 'roadCameraState', 'deviceState'} <= set(rows)
  assert rows['sensorEvents']['publisher_pid'] == replaying.pid
  assert 70 < rows['sensorEvents']['hz'] < 130
  assert 14 < rows['roadCameraState']['hz'] < 26
  replaying.send_signal(signal.SIGINT)
  replaying.wait(10)
  text = tool('topics', '--interval', '0.2').stdout
  assert 'no topic has a live publisher' in text
