"""route_info, export and plot on the fixture route, checked against its known content
(tools/replay/fixture_route.h): 2 segments x 2 s; 20 Hz roadCameraState/roadEncodeIdx
(frame f), 100 Hz sensorEvents (message j: values [j, sin(j/10)]), can every 2nd
sensor tick (address 0x100 + j % 4, dat = j little-endian), deviceState at 2 Hz."""
import base64
import csv
import io
import json
import math
import os
import shutil


def test_route_info_counts_everything(route, tool):
  root, path = route
  r = json.loads(tool('route_info', '--json', path).stdout)
  assert r['route'] == 'fixture'
  assert [s['number'] for s in r['segments']] == [0, 1]
  assert abs(r['duration_s'] - 4.0) < 1e-6
  assert r['services'] == {'can': 200, 'deviceState': 8, 'initData': 2, 'roadCameraState': 80,
                           'roadEncodeIdx': 80, 'sensorEvents': 400, 'sentinel': 4}
  for s in r['segments']:
    assert s['messages'] == 387
    assert s['videos']['fcamera.hevc'] == {'frames': 40, 'keyframes': 2, 'width': 320, 'height': 240, 'indexed': 40}
  assert r['gaps'] == {'missing_segments': [], 'pauses': [], 'dropped_frames': []}
  text = tool('route_info', path).stdout
  assert 'route fixture: 2 segments (0..1), 4.00 s, 774 messages' in text
  assert 'sensorEvents' in text and '100.00' in text


def test_route_info_by_name_range_and_gaps(route, tmp_path, monkeypatch, tool):
  root, _ = route
  monkeypatch.setenv('CONDUIT_LOG_ROOT', root)
  one = json.loads(tool('route_info', '--json', 'fixture/1:').stdout)
  assert [s['number'] for s in one['segments']] == [1]
  assert one['services']['sensorEvents'] == 200

  copy = tmp_path / 'r'
  shutil.copytree(root, copy)
  os.rename(copy / 'fixture--1', copy / 'fixture--3')
  r = json.loads(tool('route_info', '--json', copy / 'fixture').stdout)
  assert r['gaps']['missing_segments'] == [1, 2]
  # Segment "3" holds frames 40..79 right after 0..39, 2 s of log later: no pause, no drop.
  assert r['gaps']['dropped_frames'] == []


def test_route_info_reports_damage_and_missing_video(route, tmp_path, tool):
  root, _ = route
  copy = tmp_path / 'r'
  shutil.copytree(root, copy)
  os.remove(copy / 'fixture--1' / 'fcamera.hevc')
  with open(copy / 'fixture--0' / 'rlog.zst', 'r+b') as f:
    f.seek(os.path.getsize(copy / 'fixture--0' / 'rlog.zst') // 2)
    f.write(b'\x5a' * 64)
  r = json.loads(tool('route_info', '--json', copy / 'fixture').stdout)
  assert r['segments'][1]['videos']['fcamera.hevc'] == {'error': 'missing', 'indexed': 40}
  assert 0 < r['segments'][0]['messages'] < 387
  assert any('fixture--0' in w for w in r['warnings'])


def test_export_csv_values(route, tool):
  _, path = route
  rows = list(csv.DictReader(io.StringIO(tool('export', path, '--services', 'can').stdout)))
  assert len(rows) == 200
  for i, row in enumerate(rows):
    j = 2 * i
    assert int(row['can.0.address']) == 0x100 + j % 4
    assert row['can.0.dat'] == base64.b64encode(j.to_bytes(4, 'little')).decode()
    assert int(row['logMonoTime']) == 1_000_000_000_000 + j * 10_000_000 + 100_000
    assert abs(float(row['t']) - (j * 0.01 + 0.0001)) < 1e-9


def test_export_jsonl_and_several_csv(route, tmp_path, tool):
  _, path = route
  lines = tool('export', path, '--services', 'sensorEvents', '--format', 'jsonl').stdout.splitlines()
  assert len(lines) == 400
  for j, line in enumerate(lines):
    rec = json.loads(line)
    assert rec['service'] == 'sensorEvents'
    values = rec['sensorEvents'][0]['values']
    assert values[0] == j
    assert abs(values[1] - math.sin(j / 10)) < 1e-5  # float32

  out = tmp_path / 'csv'
  tool('export', f'{path}/1', '--services', 'deviceState,roadCameraState', '-o', out)
  with open(out / 'deviceState.csv') as f:
    ds = list(csv.DictReader(f))
  with open(out / 'roadCameraState.csv') as f:
    cams = list(csv.DictReader(f))
  assert [float(r['deviceState.memoryUsagePercent']) for r in ds] == [0.0, 50.0, 0.0, 50.0]
  assert [int(r['roadCameraState.frameId']) for r in cams] == list(range(40, 80))


def test_export_errors(route, tool):
  _, path = route
  for args, needle in [(('--services', 'nosuch'), 'unknown service nosuch'),
                       (('--services', 'modelV2'), 'no messages of modelV2'),
                       (('--services', 'can,sensorEvents'), 'needs -o DIR')]:
    p = tool('export', path, *args, check=False)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr
  p = tool('export', path + '_nope', '--services', 'can', check=False)
  assert p.returncode == 2 and 'not found' in p.stderr


def test_plot_writes_a_png_and_rejects_bad_fields(route, tmp_path, tool):
  _, path = route
  png = tmp_path / 'p.png'
  p = tool('plot', path, 'sensorEvents.0.values.1', 'deviceState.memoryUsagePercent', '-o', png)
  assert 'sensorEvents.0.values.1 (400 points)' in p.stdout
  assert 'deviceState.memoryUsagePercent (8 points)' in p.stdout
  assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  for signal, needle in [('sensorEvents.0.value', "no field 'value' in sensorEvents.0"),
                         ('can.5.address', 'is a list of 1'),
                         ('nosuch.x', 'unknown service nosuch'),
                         ('modelV2.frameId', 'no messages of modelV2'),
                         ('can', 'expected SERVICE.FIELD')]:
    p = tool('plot', path, signal, '-o', png, check=False)
    assert p.returncode == 2, (signal, p.stderr)
    assert needle in p.stderr, (signal, p.stderr)


def test_every_tool_has_help(tool):
  for name in ['dump', 'hz', 'bw', 'topics', 'route_info', 'export', 'plot', 'replay']:
    p = tool(name, '--help')
    assert 'usage' in p.stdout.lower(), name


def test_route_info_counts_unreadable_events_and_reads_past_them(route, tmp_path, tool):
  """A well-framed event with a bad pointer is reported by count and position; every other event is counted."""
  import cereal.messaging as messaging
  from common.testing import poison
  from loggerd import logreader_ext
  from loggerd.logreader import LogReader
  root, _ = route
  copy = tmp_path / 'r'
  shutil.copytree(root, copy)
  log = copy / 'fixture--0' / 'rlog.zst'
  events = list(LogReader(log, raw=True))
  events.insert(10, poison.calibration(messaging, poisoned=True))
  os.remove(log)
  logreader_ext.write_log(str(log), events)
  out = tool('route_info', copy / 'fixture')
  assert '1 unreadable events skipped (1 in segment 0)' in out.stdout
  assert 'event 10 is not a readable Event' in out.stderr
  r = json.loads(tool('route_info', '--json', copy / 'fixture').stdout)
  assert r['bad_events'] == 1 and r['segments'][0]['bad_events'] == 1
  assert r['segments'][0]['messages'] == 387  # every event of the segment, the bad one aside


def test_route_info_frame_ids_that_start_over_are_a_camera_restart_not_missing_frames(tmp_path, tool):
  # encoderd restarted (frames 10..12 not encoded), then camerad restarted (ids from 0 again):
  # 3 frames missing, one restart; it used to report "-N frames missing".
  from cereal import messaging
  seg = tmp_path / 'r--0'
  seg.mkdir()
  with open(seg / 'rlog', 'wb') as f:
    f.write(messaging.new_message('initData').to_bytes())
    for fid in [*range(0, 10), *range(13, 20), *range(0, 5)]:
      m = messaging.new_message('roadEncodeIdx')
      m.roadEncodeIdx.frameId = fid
      f.write(m.to_bytes())
  out = tool('route_info', '--json', str(tmp_path / 'r'))
  r = json.loads(out.stdout)
  assert [(d['after_frame'], d['next_frame']) for d in r['gaps']['dropped_frames']] == [(9, 13)]
  assert [(d['after_frame'], d['next_frame']) for d in r['camera_restarts']] == [(19, 0)]
  text = tool('route_info', str(tmp_path / 'r')).stdout
  assert 'roadEncodeIdx: 3 frames missing in 1 gaps' in text
  assert 'roadEncodeIdx: frame ids started over 1 time' in text
