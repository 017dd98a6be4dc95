"""Foxglove and MCAP, checked by the ecosystem's own libraries (tools/tests/js:
@mcap/core's indexed reader, @foxglove/ws-protocol's client, Ajv):

- a live pipeline (camerad 640x480 -> encoderd H.265 + H.264 qcamera -> loggerd)
  with tools/foxglove serving it: the advertisement holds every service with a
  schema Ajv compiles, 3 services and a video channel arrive at their rates and
  validate, video starts at a keyframe, unsubscribing stops a channel, and bad
  clients get an error without harming the server;
- the route that pipeline recorded, exported with tools/export --format mcap:
  per-channel counts equal LogReader's, sampled JSON equals to_dict(), every
  message validates, one video message per indexed frame with monotonic times;
- the fixture route: --services/--start/--end, and a damaged segment skipped
  with a warning while the export still validates."""
import asyncio
import json
import os
import shutil
import subprocess

import pytest

from tools.tests.foxglove_check import from_json, node, same, server_url
from tools.tests.recording import Recording

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
W, H, FRAMES, SEG_FRAMES = 640, 480, 140, 60
LIVE = ['roadCameraState', 'roadEncodeIdx', 'qRoadEncodeIdx', 'roadEncodeData']


@pytest.fixture(scope='module')
def live(tmp_path_factory):
  """Runs the pipeline and tools/foxglove; a Node client watches LIVE for 3 s
  while camerad runs. Yields {url, client, route}; the server stays up for the
  module's tests."""
  with Recording(tmp_path_factory.mktemp('foxglove'), 'fox', SEG_FRAMES) as rec:
    server = rec.start(os.path.join(ROOT, 'tools', 'foxglove'), '--port', '0', stdout=subprocess.PIPE, text=True)
    url = server_url(server)
    assert url.startswith('ws://127.0.0.1:')  # loopback by default
    cam = rec.camerad(FRAMES, W, H)
    rec.wait_flowing()
    client = node('ws_client.mjs', url, 3, *LIVE)
    assert cam.wait(60) == 0
    rec.wait_encoded(FRAMES - 1)
    rec.stop_recording()
    yield {'url': url, 'client': client, 'route': rec.route, 'server': server}


def test_live_advertises_every_service_with_a_schema(live):
  from cereal.services import SERVICE_LIST
  c = live['client']
  assert c['server'] == 'conduit'
  assert set(c['advertised']) == set(SERVICE_LIST)
  for topic, ch in c['advertised'].items():
    assert ch['schemaOk'] is True, (topic, ch['schemaOk'])
    assert (ch['encoding'], ch['schemaEncoding']) == ('json', 'jsonschema')
    video = topic in ('roadEncodeData', 'wideRoadEncodeData', 'driverEncodeData', 'qRoadEncodeData')
    assert ch['schemaName'] == ('foxglove.CompressedVideo' if video else f'conduit.Event.{topic}')


def test_live_channels_arrive_at_their_rates(live):
  from cereal.services import SERVICE_LIST
  topics = live['client']['topics']
  for topic in LIVE:
    t = topics[topic]
    assert t['invalid'] == 0, topic
    rate = (t['count'] - 1) / t['span_s']
    want = SERVICE_LIST[topic].frequency
    assert 0.5 * want <= rate <= 1.3 * want, (topic, t['count'], t['span_s'])
  video = topics['roadEncodeData']
  assert video['first_keyframe'] is True       # a video subscription starts where a decoder can
  assert video['keyframes'] >= 2               # GOP 20 at 20 fps: one a second
  assert topics[LIVE[0]]['count'] >= 40  # 3 s at 20 Hz


def test_live_unsubscribe_stops_the_channel(live):
  assert live['client']['topics'][LIVE[0]]['count'] > 0
  assert live['client']['after_unsubscribe'] == 0
  assert live['client']['others_after_unsubscribe'] >= 10  # the pipeline was still running meanwhile


def test_live_server_answers_bad_clients_and_keeps_serving(live):
  import websockets

  async def talk():
    async with websockets.connect(live['url']) as ws:  # no subprotocol offered
      await asyncio.wait_for(ws.wait_closed(), 5)
      assert ws.close_code == 1002
    async with websockets.connect(live['url'], subprotocols=['foxglove.websocket.v1']) as ws:
      info = json.loads(await ws.recv())
      adv = json.loads(await ws.recv())
      assert (info['op'], adv['op']) == ('serverInfo', 'advertise')
      for bad in ['not json', '{"op": "subscribe"}', '{"op": "subscribe", "subscriptions": [{"id": 1, "channelId": 999}]}',
                  '{"op": "launchMissiles"}', b'\x01\x02']:
        await ws.send(bad)
        status = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert status['op'] == 'status' and status['level'] == 2, status
      await ws.send(json.dumps({'op': 'unsubscribe', 'subscriptionIds': [12345]}))  # unknown: ignored
      await ws.ping()
  asyncio.run(talk())
  assert live['server'].poll() is None


def _logged(spec):
  """{service: [to_dict of each event]} of a route spec, as LogReader reads it."""
  from loggerd.logreader import LogReader
  out = {}
  for ev in LogReader(spec):
    out.setdefault(ev.which(), []).append(ev.to_dict())
  return out


def _check_export(mcap, logged, video_index):
  """Asserts the MCAP file (read by @mcap/core) holds exactly `logged`, plus one
  video message per entry of `video_index` {topic: [EncodeIndex dicts]}."""
  d = node('check_mcap.mjs', mcap, 30)
  channels = d['channels']
  assert d['chunks'] and all(c['compression'] == 'zstd' for c in d['chunks'])
  stats = d['statistics']
  assert stats['channel_message_counts'] == {t: c['count'] for t, c in channels.items()}
  assert int(stats['message_count']) == sum(c['count'] for c in channels.values())
  assert set(channels) == set(logged) | {t for t, idx in video_index.items() if idx}
  for topic, events in logged.items():
    ch = channels[topic]
    assert (ch['count'], ch['invalid']) == (len(events), []), topic
    assert (ch['message_encoding'], ch['schema_encoding']) == ('json', 'jsonschema')
    by_time = {}
    for e in events:
      by_time.setdefault(e['logMonoTime'], []).append(e)
    assert ch['samples']
    schema = None
    for log_time, text in ch['samples']:
      if schema is None:
        schema = _schema(topic)
      got = from_json(json.loads(text), schema)
      assert any(same(got, e) for e in by_time[int(log_time)]), (topic, got)
  for topic, index in video_index.items():
    if not index:
      continue
    ch = channels[topic]
    assert ch['invalid'] == [] and ch['schema_name'] == 'foxglove.CompressedVideo'
    frames = ch['frames']
    assert len(frames) == len(index), topic
    log_times = [int(f[0]) for f in frames]
    stamps = [int(f[1]) for f in frames]
    assert log_times == sorted(log_times) and stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert stamps == [i['timestampSof'] for i in index]
    assert frames[0][2] is True  # the first frame carries its parameter sets
    keyframes = [f[2] for f, i in zip(frames, index) if i['flags'] & 1]
    assert keyframes and all(keyframes)
    assert all(f[4] > 0 for f in frames)
  return d


def _schema(topic):
  from tools.mcap.foxglove_json import schema
  return json.loads(schema(topic)[1])


def test_export_of_the_recorded_route_reads_back(live, tool, tmp_path):
  out = tmp_path / 'route.mcap'
  tool('export', live['route'], '--format', 'mcap', '-o', out)
  logged = _logged(live['route'])
  video = {'roadEncodeData': logged.get('roadEncodeIdx', []), 'qRoadEncodeData': logged.get('qRoadEncodeIdx', [])}
  # encoderd drops frames it cannot keep up with (counted); what was indexed must all be there
  assert len(video['roadEncodeData']) >= FRAMES // 2 and len(video['qRoadEncodeData']) >= FRAMES // 2
  d = _check_export(str(out), logged, {t: [e[s] for e in v] for t, v, s in
                                       [(t, v, 'roadEncodeIdx' if t == 'roadEncodeData' else 'qRoadEncodeIdx')
                                        for t, v in video.items()]})
  assert {f[3] for f in d['channels']['roadEncodeData']['frames']} == {'h265'}
  assert {f[3] for f in d['channels']['qRoadEncodeData']['frames']} == {'h264'}


def test_export_services_and_time_range(route, tool, tmp_path):
  _, spec = route
  out = tmp_path / 'part.mcap'
  p = tool('export', spec, '--format', 'mcap', '--services', 'can,roadEncodeData', '--start', '1.0', '--end', '3.0',
           '-o', out, '--progress')
  assert 'export [' in p.stderr and '2/2 segment 1' in p.stderr  # the progress bar, forced on

  logged = _logged(spec)
  t0 = min(e['logMonoTime'] for events in logged.values() for e in events)
  inside = lambda e: t0 + 1e9 <= e['logMonoTime'] <= t0 + 3e9  # noqa: E731
  can = [e for e in logged['can'] if inside(e)]
  idx = [e['roadEncodeIdx'] for e in logged['roadEncodeIdx'] if inside(e)]
  while not idx[0]['flags'] & 1:  # the video channel starts at a keyframe
    idx.pop(0)
  assert 60 <= len(can) <= 110 and len(idx) >= 20
  _check_export(str(out), {'can': can}, {'roadEncodeData': idx})


def test_export_skips_a_damaged_segment(route, tool, tmp_path):
  root, spec = route
  name = os.path.basename(spec)
  for d in os.listdir(root):
    if d.startswith(name + '--'):
      shutil.copytree(os.path.join(root, d), tmp_path / d)
  with open(tmp_path / f'{name}--0' / 'rlog.zst', 'r+b') as f:
    f.write(b'\x00garbage' * 64)
  out = tmp_path / 'damaged.mcap'
  p = tool('export', tmp_path / name, '--format', 'mcap', '-o', out)
  assert 'warning: segment 0 skipped' in p.stderr, p.stderr
  logged = _logged(str(tmp_path / name / '1'))
  _check_export(str(out), logged, {'roadEncodeData': [e['roadEncodeIdx'] for e in logged['roadEncodeIdx']]})


def test_export_segment_range(route, tool, tmp_path):
  _, spec = route
  out = tmp_path / 'seg1.mcap'
  tool('export', spec + '/1', '--format', 'mcap', '--services', 'can,sensorEvents', '-o', out)
  logged = _logged(spec + '/1')
  _check_export(str(out), {s: logged[s] for s in ('can', 'sensorEvents')}, {})


def test_export_refuses_bad_arguments(route, tool, tmp_path):
  _, spec = route
  p = tool('export', spec, '--format', 'mcap', check=False)
  assert p.returncode == 2 and '-o FILE.mcap' in p.stderr
  p = tool('export', spec, '--format', 'mcap', '--services', 'nope', '-o', tmp_path / 'x.mcap', check=False)
  assert p.returncode == 2 and 'unknown service nope' in p.stderr
  p = tool('export', spec, '--format', 'mcap', '--start', '100', '-o', tmp_path / 'x.mcap', check=False)
  assert p.returncode == 1 and 'nothing to export' in p.stderr and not (tmp_path / 'x.mcap').exists()
  (tmp_path / 'keep.mcap').write_bytes(b'mine')
  p = tool('export', tmp_path / 'nowhere', '--format', 'mcap', '-o', tmp_path / 'keep.mcap', check=False)
  assert p.returncode == 2 and (tmp_path / 'keep.mcap').read_bytes() == b'mine'
  p = tool('export', spec, '--format', 'mcap', '-o', tmp_path / 'no' / 'dir.mcap', check=False)
  assert p.returncode == 1 and 'cannot create' in p.stderr


def test_json_convention_edge_values():
  """64-bit integers, non-finite floats, bytes, text escapes and enums, exactly."""
  import cereal.messaging as messaging
  from tools.mcap.foxglove_json import message
  msg = messaging.new_message('testMessage')
  msg.testMessage.seq = 2**64 - 1
  msg.testMessage.payload = bytes(range(256)) + b'\x01'
  topic, mono, text, key = message(msg.to_bytes())
  d = json.loads(text)
  assert (topic, key, d['logMonoTime'], d['testMessage']['seq']) == ('testMessage', False, str(mono), str(2**64 - 1))
  import base64
  assert base64.b64decode(d['testMessage']['payload']) == bytes(range(256)) + b'\x01'

  msg = messaging.new_message('liveCalibration')
  msg.liveCalibration.rpyCalib = [float('nan'), float('inf'), float('-inf'), 0.1, -2.5e-12]
  msg.liveCalibration.calPerc = -100
  d = json.loads(message(msg.to_bytes())[2])['liveCalibration']
  assert d['rpyCalib'][:3] == ['NaN', 'Infinity', '-Infinity']
  assert d['rpyCalib'][3:] == [0.1, -2.5e-12] and d['calPerc'] == -100  # shortest float32 decimals

  msg = messaging.new_message('logMessage')
  msg.logMessage.message = 'quote " backslash \\ newline \n tab \t bell \x07 ü 漢 🚗'
  msg.logMessage.level = 'warning'
  d = json.loads(message(msg.to_bytes())[2])['logMessage']
  assert d['message'] == msg.logMessage.message and d['level'] == 'warning'
  bad = messaging.new_message('initData')
  with pytest.raises(ValueError):
    message(bad.to_bytes()[:-8])


def test_live_server_reports_a_busy_port(tool):
  import socket
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    s.listen()
    p = tool('foxglove', '--port', s.getsockname()[1], check=False, timeout=30)
  assert p.returncode == 2 and 'cannot listen on 127.0.0.1' in p.stderr and 'address already in use' in p.stderr
