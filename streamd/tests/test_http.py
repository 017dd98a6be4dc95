"""streamd over HTTP on the fixture route (tools/replay/fixture_route.h): route
JSON, byte-exact files and Range slices, files still being written, and what a
hostile client gets: the 4xx matrix, slowloris, 1000 idle connections, tokens."""
import json
import os
import resource
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from streamd.tests.http_client import get, read_response, request  # noqa: E402


@pytest.fixture
def server(streamd, fixture_route, tmp_path):
  root, route = fixture_route
  return streamd('--no-live', '--log-root', root, '--cache-dir', tmp_path / 'cache'), root, route


def test_routes_and_route_json_match_the_disk(server):
  s, root, route = server
  routes = json.loads(get(s.port, '/routes').body)
  assert [(r['name'], r['segments'], r['recording']) for r in routes] == [(route, 2, False)]
  info = json.loads(get(s.port, f'/routes/{route}').body)
  assert [seg['number'] for seg in info['segments']] == [0, 1]
  for seg in info['segments']:
    d = os.path.join(root, f'{route}--{seg["number"]}')
    on_disk = {f: os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)}
    assert {f: v['size'] for f, v in seg['files'].items()} == on_disk
  assert routes[0]['bytes'] == sum(v['size'] for seg in info['segments'] for v in seg['files'].values())


def test_every_segment_file_is_byte_exact(server):
  s, root, route = server
  for n in (0, 1):
    for f in ('rlog.zst', 'qlog.zst', 'fcamera.hevc'):
      with open(os.path.join(root, f'{route}--{n}', f), 'rb') as fh:
        want = fh.read()
      r = get(s.port, f'/routes/{route}/{n}/{f}')
      assert r.status == 200 and r.headers['accept-ranges'] == 'bytes'
      assert r.body == want, f'{f} of segment {n} differs'
      head = get(s.port, f'/routes/{route}/{n}/{f}', method='HEAD')
      assert head.status == 200 and int(head.headers['content-length']) == len(want) and head.body == b''


@pytest.mark.parametrize('spec,first,last', [
  ('bytes=0-0', 0, 0), ('bytes=10-99', 10, 99), ('bytes=1000-', 1000, None), ('bytes=-50', -50, None),
  ('bytes=5-999999999', 5, None), ('bytes=-999999999', 0, None),
])
def test_range_slices_are_byte_exact(server, spec, first, last):
  s, root, route = server
  with open(os.path.join(root, f'{route}--1', 'fcamera.hevc'), 'rb') as fh:
    data = fh.read()
  start = first if first >= 0 else len(data) + first
  end = len(data) - 1 if last is None else last
  r = get(s.port, f'/routes/{route}/1/fcamera.hevc', {'Range': spec})
  assert r.status == 206
  assert r.headers['content-range'] == f'bytes {start}-{end}/{len(data)}'
  assert r.body == data[start:end + 1]


def test_a_file_being_written_is_served_up_to_what_is_on_disk(server):
  s, root, route = server
  d = os.path.join(root, f'{route}--1')
  path = os.path.join(d, 'qcamera.ts')
  open(path + '.lock', 'w').close()
  try:
    with open(path, 'wb') as f:
      f.write(b'A' * 5000)
      f.flush()
      assert get(s.port, f'/routes/{route}/1/qcamera.ts').body == b'A' * 5000
      info = json.loads(get(s.port, f'/routes/{route}').body)
      assert info['recording'] and info['segments'][1]['files']['qcamera.ts'] == {'size': 5000, 'writing': True}
      f.write(b'B' * 3000)
      f.flush()
      r = get(s.port, f'/routes/{route}/1/qcamera.ts', {'Range': 'bytes=4990-'})
      assert r.status == 206 and r.body == b'A' * 10 + b'B' * 3000
  finally:
    os.unlink(path)
    os.unlink(path + '.lock')


def raw(route):
  ok = f'GET /routes/{route}/0/rlog.zst HTTP/1.1\r\nHost: 127.0.0.1\r\n'
  return [
    # path traversal, plain and encoded, and files outside the served list
    ('dotdot', b'GET /routes/../../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n', 400),
    ('dotdot static', b'GET /static/../server.cc HTTP/1.1\r\nHost: localhost\r\n\r\n', 400),
    ('encoded dotdot', f'GET /routes/{route}/0/%2e%2e HTTP/1.1\r\nHost: localhost\r\n\r\n'.encode(), 400),
    ('encoded slash', f'GET /routes/{route}/0/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n\r\n'.encode(), 400),
    ('encoded nul', f'GET /routes/{route}/0/rlog.zst%00 HTTP/1.1\r\nHost: localhost\r\n\r\n'.encode(), 400),
    ('not served', f'GET /routes/{route}/0/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n'.encode(), 404),
    ('bad route', b'GET /routes/.hidden HTTP/1.1\r\nHost: localhost\r\n\r\n', 404),
    ('no route', b'GET /routes/nothing/0/rlog.zst HTTP/1.1\r\nHost: localhost\r\n\r\n', 404),
    ('absolute target', b'GET http://x/ HTTP/1.1\r\nHost: localhost\r\n\r\n', 400),
    # malformed heads
    ('garbage', b'GARBAGE\r\n\r\n', 400),
    ('bare LF', b'GET / HTTP/1.1\nHost: localhost\n\n', 400),
    ('no host', b'GET / HTTP/1.1\r\n\r\n', 400),
    ('two hosts', b'GET / HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n', 400),
    ('obs-fold', b'GET / HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n 2\r\n\r\n', 400),
    ('space before colon', b'GET / HTTP/1.1\r\nHost : localhost\r\n\r\n', 400),
    ('control byte', b'GET / HTTP/1.1\r\nHost: local\x01host\r\n\r\n', 400),
    ('version', b'GET / HTTP/2.0\r\nHost: localhost\r\n\r\n', 505),
    ('post', b'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n', 405),
    ('put', b'PUT /routes/x HTTP/1.1\r\nHost: localhost\r\n\r\n', 405),
    ('body', b'GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello', 413),
    ('chunked', b'GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 413),
    ('other host', b'GET /routes HTTP/1.1\r\nHost: attacker.example\r\n\r\n', 421),
    # sizes
    ('huge header', b'GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ' + b'a' * 9000 + b'\r\n\r\n', 431),
    ('many headers', b'GET / HTTP/1.1\r\nHost: localhost\r\n' + b'X-A: 1\r\n' * 70 + b'\r\n', 431),
    ('long target', b'GET /' + b'a' * 3000 + b' HTTP/1.1\r\nHost: localhost\r\n\r\n', 414),
    # bad ranges
    ('range words', f'{ok}Range: bytes=abc\r\n\r\n'.encode(), 400),
    ('range backwards', f'{ok}Range: bytes=50-10\r\n\r\n'.encode(), 400),
    ('range unit', f'{ok}Range: lines=1-2\r\n\r\n'.encode(), 400),
    ('range past end', f'{ok}Range: bytes=999999999-\r\n\r\n'.encode(), 416),
    ('range several', f'{ok}Range: bytes=0-1,5-6\r\n\r\n'.encode(), 416),
    ('range overflow', f'{ok}Range: bytes=99999999999999999999-\r\n\r\n'.encode(), 400),
  ]


def test_the_4xx_matrix_and_everyone_else_is_still_served(server):
  s, root, route = server
  with open(os.path.join(root, f'{route}--0', 'rlog.zst'), 'rb') as f:
    rlog = f.read()
  for name, req, status in raw(route):
    r = request(s.port, req)
    assert r.status == status, f'{name}: got {r.status} {r.body!r}, expected {status}'
    if status == 416:
      assert r.headers['content-range'] == f'bytes */{len(rlog)}', name
  assert get(s.port, f'/routes/{route}/0/rlog.zst').body == rlog
  stats = s.stats()
  assert stats['status']['4xx'] == len(raw(route)) - 1 and stats['status']['5xx'] == 1  # 505 is the one 5xx


def test_a_symlink_in_a_segment_is_not_followed(server):
  s, root, route = server
  link = os.path.join(root, f'{route}--0', 'qcamera.ts')
  os.symlink('/etc/passwd', link)
  try:
    assert get(s.port, f'/routes/{route}/0/qcamera.ts').status == 404
  finally:
    os.unlink(link)


def test_pipelined_requests_are_answered_in_order(server):
  s, root, route = server
  with socket.create_connection(('127.0.0.1', s.port), timeout=10) as c:
    c.sendall((f'GET /routes/{route} HTTP/1.1\r\nHost: localhost\r\n\r\n'
               f'GET /routes/{route}/0/qlog.zst HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-3\r\n'
               'Connection: close\r\n\r\n').encode())
    data = b''
    while chunk := c.recv(65536):
      data += chunk
  head1, _, rest = data.partition(b'\r\n\r\n')
  n1 = int(next(ln for ln in head1.split(b'\r\n') if ln.lower().startswith(b'content-length')).split(b': ')[1])
  body1, second = rest[:n1], rest[n1:]
  assert head1.startswith(b'HTTP/1.1 200') and json.loads(body1)['name'] == route
  head2, _, body2 = second.partition(b'\r\n\r\n')
  assert head2.startswith(b'HTTP/1.1 206') and body2 == b'\x28\xb5\x2f\xfd'  # a zstd frame starts there


def test_slowloris_gets_408_while_others_are_served(streamd, fixture_route):
  root, route = fixture_route
  s = streamd('--no-live', '--log-root', root, '--header-timeout-ms', 1000)
  slow = socket.create_connection(('127.0.0.1', s.port), timeout=10)
  start = time.monotonic()
  closed_after = None
  try:
    for b in b'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + b'z' * 200:
      try:
        slow.sendall(bytes([b]))
      except (BrokenPipeError, ConnectionResetError):
        break
      assert get(s.port, f'/routes/{route}').status == 200
      time.sleep(0.05)
      if time.monotonic() - start > 1.0:
        break
    r = read_response(slow)
    closed_after = time.monotonic() - start
    assert r.status == 408
    assert slow.recv(1) == b''
  finally:
    slow.close()
  assert closed_after is not None and closed_after >= 1.0
  assert s.stats()['timeouts'] >= 1


def test_1000_idle_connections_do_not_lock_anyone_out(streamd, fixture_route):
  root, route = fixture_route
  soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
  if soft < 1200:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
  s = streamd('--no-live', '--log-root', root, '--header-timeout-ms', 1500)
  idle = []
  try:
    for _ in range(1000):
      idle.append(socket.create_connection(('127.0.0.1', s.port), timeout=10))
    r = get(s.port, f'/routes/{route}/0/rlog.zst')
    assert r.status == 200 and len(r.body) == os.path.getsize(os.path.join(root, f'{route}--0', 'rlog.zst'))
    assert s.stats()['connections'] >= 1000
    for c in idle:  # each is closed by the server once the header timeout passes
      c.settimeout(10)
      assert c.recv(1) == b''
  finally:
    for c in idle:
      c.close()
  assert s.stats()['timeouts'] >= 1000


def test_past_max_connections_the_oldest_idle_one_makes_room(streamd, fixture_route):
  root, route = fixture_route
  s = streamd('--no-live', '--log-root', root, '--max-connections', 20)
  idle = [socket.create_connection(('127.0.0.1', s.port), timeout=10) for _ in range(30)]
  try:
    assert get(s.port, '/routes').status == 200
    assert s.stats()['evicted'] >= 10
  finally:
    for c in idle:
      c.close()


def test_token_is_required_and_compared(streamd, fixture_route):
  root, route = fixture_route
  s = streamd('--no-live', '--log-root', root, '--token', 's3cret-token')
  assert get(s.port, '/routes').status == 401
  assert get(s.port, '/routes', {'Authorization': 'Bearer s3cret-toke'}).status == 401
  assert get(s.port, '/routes', {'Authorization': 'Bearer s3cret-token-'}).status == 401
  assert get(s.port, '/routes?token=wrong').status == 401
  assert get(s.port, '/routes', {'Authorization': 'Bearer s3cret-token'}).status == 200
  assert get(s.port, '/routes?token=s3cret-token').status == 200
  assert get(s.port, '/').status == 200  # the page has no data; it sends the token itself
  assert b'streamd' in get(s.port, '/').body


def test_binding_beyond_loopback_without_a_token_is_refused(fixture_route):
  root, _ = fixture_route
  p = subprocess.run([os.path.join(ROOT, 'build', 'bin', 'streamd'), '--no-live', '--log-root', root, '--bind',
                      '0.0.0.0', '--port', '0'], capture_output=True, text=True, timeout=10)
  assert p.returncode == 1 and '--token' in p.stderr


def test_the_page_and_its_files_are_served(server):
  s, _, _ = server
  page = get(s.port, '/')
  assert page.status == 200 and page.headers['content-type'].startswith('text/html')
  for f, kind in (('app.js', 'text/javascript'), ('style.css', 'text/css')):
    r = get(s.port, f'/static/{f}')
    assert r.status == 200 and r.headers['content-type'].startswith(kind)
    with open(os.path.join(ROOT, 'streamd', 'www', f), 'rb') as fh:
      assert r.body == fh.read()
  assert get(s.port, '/static/nothing.js').status == 404


def test_signals_of_the_fixture_route(server):
  s, root, route = server
  r = json.loads(get(s.port, f'/routes/{route}/signals?s=roadCameraState.frameId,sensorEvents.0.values.0').body)
  frames = r['signals']['roadCameraState.frameId']
  assert frames['v'] == list(range(80))
  sensor = r['signals']['sensorEvents.0.values.0']
  assert sensor['v'] == list(range(400))
  # no qcamera in the fixture: times count from the first event
  assert frames['t'][0] == pytest.approx(0.001, abs=1e-6) and frames['t'][20] == pytest.approx(1.001, abs=1e-6)
  bad = get(s.port, f'/routes/{route}/signals?s=roadCameraState.nothing')
  assert bad.status == 400 and b"no field 'nothing'" in bad.body
  assert get(s.port, f'/routes/{route}/video.mp4').status == 404  # no qcamera.ts to remux


def test_a_client_that_leaves_before_a_slow_reply_costs_nothing(server):
  s, root, route = server
  for _ in range(5):  # signals are made on the worker thread; the clients are gone when they are ready
    with socket.create_connection(('127.0.0.1', s.port), timeout=10) as c:
      c.sendall(f'GET /routes/{route}/signals?s=sensorEvents.0.values.1 HTTP/1.1\r\nHost: localhost\r\n\r\n'.encode())
  r = json.loads(get(s.port, f'/routes/{route}/signals?s=sensorEvents.0.values.0').body)
  assert r['signals']['sensorEvents.0.values.0']['v'] == list(range(400))
