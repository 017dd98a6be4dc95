"""One CLI: every tool takes --prefix and --log-root and resolves routes the same
way; routes, clean, pub, schema; unknown names are errors with a suggestion;
--help exits 0; a silent prefix gets a hint and is not created; one JSON
convention across dump, lr and export."""
import csv
import io
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TOOLS = ['dump', 'hz', 'bw', 'topics', 'route_info', 'routes', 'export', 'plot', 'clean', 'pub', 'schema', 'frame',
         'foxglove', 'replay', 'lr']


@pytest.mark.parametrize('name', TOOLS)
def test_every_tool_has_help_that_exits_0_and_names_the_common_options(name, tool):
  p = tool(name, '--help')
  assert 'usage' in p.stdout.lower()
  assert '--log-root' in p.stdout and ('--prefix' in p.stdout), name


def test_a_route_resolves_the_same_way_in_every_tool(route, tool, tmp_path):
  root, path = route
  cwd = str(tmp_path)  # nowhere near the routes: names resolve under --log-root only
  for spec, segments in [('fixture', [0, 1]), ('fixture/1', [1]), ('fixture/0:1', [0]), (path, [0, 1]),
                         (path + '--1', [1])]:
    info = json.loads(tool('route_info', '--json', '--log-root', root, spec, cwd=cwd).stdout)
    assert [s['number'] for s in info['segments']] == segments, spec
    lr = tool('lr', '--log-root', root, '--only', 'roadCameraState', spec, cwd=cwd).stdout.splitlines()
    assert len(lr) == 40 * len(segments), spec
    csv_rows = tool('export', '--log-root', root, spec, '--services', 'roadCameraState', cwd=cwd).stdout.splitlines()
    assert len(csv_rows) == 1 + 40 * len(segments), spec
  # The environment is the default for --log-root, in C++ and Python alike.
  env = dict(os.environ, CONDUIT_LOG_ROOT=root)
  assert tool('replay', '--fast', '--no-vipc', 'fixture/1', cwd=cwd, env=env, stdin=subprocess.DEVNULL).returncode == 0
  p = tool('route_info', '--log-root', root, 'fixtrue', cwd=cwd, check=False)
  assert p.returncode == 2 and "not found" in p.stderr and 'did you mean fixture?' in p.stderr, p.stderr


def test_routes_lists_duration_and_size(route, tool):
  root, _ = route
  rows = [json.loads(line) for line in tool('routes', '--json', '--log-root', root).stdout.splitlines()]
  seg_bytes = sum(os.path.getsize(os.path.join(root, d, f)) for d in os.listdir(root) if d.startswith('fixture--')
                  for f in os.listdir(os.path.join(root, d)))
  assert rows == [{'route': 'fixture', 'segments': 2, 'duration_s': rows[0]['duration_s'], 'bytes': seg_bytes,
                   'recording': False}]
  assert 3.9 <= rows[0]['duration_s'] <= 4.0  # 2 segments of 2 s of logged time
  text = tool('routes', '--log-root', root).stdout
  assert 'fixture' in text and ' 2 ' in text
  assert 'no routes under' in tool('routes', '--log-root', os.path.join(root, 'none')).stderr


def test_a_silent_prefix_is_not_created_and_the_live_prefixes_are_named(tool, conduit_prefix):
  import cereal.messaging as messaging
  pm = messaging.PubMaster(['can'])  # this prefix is live: the hint names it
  nosuch = conduit_prefix + '_nosuch'
  try:
    text = tool('topics', '--prefix', nosuch, '--interval', '0.1').stdout
    assert 'no topic has a live publisher' in text and "live prefixes: " in text and repr(conduit_prefix) in text
    assert not os.path.exists(f'/dev/shm/conduit_{nosuch}')
    p = tool('dump', '--prefix', nosuch, '--timeout', '1', 'can', check=False)
    assert p.returncode == 1
    assert f"nothing publishes under prefix '{nosuch}'" in p.stderr and repr(conduit_prefix) in p.stderr
    assert not os.path.exists(f'/dev/shm/conduit_{nosuch}'), 'dump left the rings it made'
    p = tool('dump', '--timeout', '2.5', 'sensorEvents', check=False)
    assert 'dump: waiting for sensorEvents: processes run under prefix' in p.stderr, p.stderr
    p = tool('hz', '--prefix', nosuch, '--duration', '1.1', 'can')
    assert 'no message yet: nothing publishes under prefix' in p.stderr
  finally:
    del pm


def test_topics_lists_services_only_unless_all(tool, conduit_prefix):
  from visionipc import VISION_STREAM_ROAD, VisionIpcServer
  import cereal.messaging as messaging
  server = VisionIpcServer('camerad')
  server.create_buffers(VISION_STREAM_ROAD, 2, 64, 32, 'nv12')
  server.start_listener()
  server.send(VISION_STREAM_ROAD, bytes(64 * 32 * 3 // 2), 1, 0, 0, True)
  pm = messaging.PubMaster(['can'])
  pm.send('can', messaging.new_message('can', 1))
  rows = [json.loads(line) for line in tool('topics', '--json', '--interval', '0.1').stdout.splitlines()]
  assert [r['name'] for r in rows] == ['can']
  rows = [json.loads(line) for line in tool('topics', '--all', '--json', '--interval', '0.1').stdout.splitlines()]
  kinds = {r['name']: r['kind'] for r in rows}
  assert kinds['can'] == 'service' and 'visionipc' in kinds.values(), kinds
  vipc = next(n for n, k in kinds.items() if k == 'visionipc')
  p = tool('dump', vipc, check=False)
  assert p.returncode == 2 and f'unknown service {vipc}' in p.stderr
  del pm, server


def test_pub_dump_field_and_schema(tool, conduit_prefix):
  def dump_one(*args):
    """What a dump prints of the one message pub sends once that dump subscribed."""
    dump = subprocess.Popen([os.path.join(ROOT, 'tools', 'dump'), 'can', '-n', '1', '--timeout', '60', *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
      tool('pub', '--wait', '60', 'can', '[{"address": 291, "dat": "AQI="}]')
      return dump.communicate(timeout=60)[0]
    finally:
      if dump.poll() is None:
        dump.kill()
        dump.wait()
  assert dump_one('--field', '0.address') == '291\n'
  ev = json.loads(dump_one('--json'))
  assert ev['can'] == [{'address': 291, 'busTime': 0, 'dat': 'AQI=', 'src': 0}] and ev['valid'] is True
  assert isinstance(ev['logMonoTime'], str) and int(ev['logMonoTime']) > 0
  assert dump_one('--json', '--field', '0.dat') == '"AQI="\n'
  for args, needle in [(('pub', 'can', '[{"adress": 1}]'), "unknown field of can.0: adress; did you mean address?"),
                       (('pub', 'can', '[{"dat": "not base64!"}]'), 'can.0.dat: expected base64 text'),
                       (('pub', 'can', '{'), 'the body is not JSON'),
                       (('pub', 'cann', '[]'), 'unknown service cann; did you mean can?'),
                       (('dump', 'modelV2', '--field', 'frameDropPrc'), 'did you mean frameDropPerc?'),
                       (('schema', 'encoderdStat'), 'did you mean encoderdState'),
                       (('hz', 'modelV3'), 'did you mean modelV2?')]:
    p = tool(*args, check=False)
    assert p.returncode == 2 and needle in p.stderr, (args, p.stderr)
  text = tool('schema', 'encoderdState').stdout.splitlines()
  assert text[:3] == ['encoderdState  EncoderdState', '  streams  list of StreamStats', '    name  text']
  assert '    queueDepth  uint32' in text
  assert 'enum (' in tool('schema', 'logMessage').stdout


def test_clean_refuses_while_the_prefix_is_live_and_removes_it_after(tool, conduit_prefix):
  user = subprocess.Popen([sys.executable, '-c', 'import sys, cereal.messaging as m; s = m.sub_sock("can"); '
                           'print("up", flush=True); sys.stdin.read()'], cwd=ROOT, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
  try:
    assert user.stdout.readline() == 'up\n'
    p = tool('clean', check=False)
    assert p.returncode == 1 and f'(pid {user.pid})' in p.stderr and 'nothing removed' in p.stderr
    assert os.path.exists(f'/dev/shm/conduit_{conduit_prefix}/can')
  finally:
    user.stdin.close()
    user.wait()
  assert 'removed' in tool('clean').stdout
  assert not os.path.exists(f'/dev/shm/conduit_{conduit_prefix}')
  assert 'nothing to do' in tool('clean').stdout
  for bad in ('..', 'x/../..'):  # $CONDUIT_PREFIX obeys the rule --prefix does: nothing outside is removed
    p = tool('clean', check=False, env=dict(os.environ, CONDUIT_PREFIX=bad))
    assert p.returncode == 2 and 'CONDUIT_PREFIX' in p.stderr and 'is invalid' in p.stderr, p.stderr


def test_one_json_convention_across_dump_lr_and_export(route, tool):
  """lr and export print the same JSON for the same event (export adds t and
  service); 64-bit integers are strings, Data base64, CSV booleans true/false."""
  root, path = route
  lr = [json.loads(line) for line in tool('lr', '--only', 'can', path).stdout.splitlines()]
  ex = [json.loads(line) for line in tool('export', path, '--services', 'can', '--format', 'jsonl').stdout.splitlines()]
  assert len(lr) == len(ex) == 200
  for a, b in zip(lr, ex):
    assert {k: v for k, v in b.items() if k not in ('t', 'service')} == a
  assert isinstance(lr[0]['logMonoTime'], str) and lr[0]['logMonoTime'] == str(1_000_000_000_000 + 100_000)
  assert lr[1]['can'][0]['dat'] == 'AgAAAA=='  # j = 2, 4 bytes little endian, base64
  rows = list(csv.DictReader(io.StringIO(tool('export', path, '--services', 'roadCameraState').stdout)))
  assert {r['valid'] for r in rows} == {'true'}
