"""The live relay with a synthetic qcamera on the bus (streamd_feed): the stream
is valid fragmented MP4 starting at a keyframe, and a slow reader and clients
that vanish mid-stream do not stall a fast one: it gets every fragment, in
order, while the slow one is dropped."""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from common.testing.wait import wait_for  # noqa: E402
from streamd.tests.http_client import answers, get  # noqa: E402
from streamd.tests.live_client import LiveClient  # noqa: E402

BIN = os.path.join(ROOT, 'build', 'bin')


@pytest.fixture
def feed():
  """feed(fps, bitrate) starts streamd_feed; stopped after the test."""
  started = []

  def start(fps, bitrate):
    p = subprocess.Popen([os.path.join(BIN, 'streamd_feed'), '--fps', fps, '--bitrate', bitrate],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    started.append(p)
    assert p.stdout.readline().startswith('ready')
    return p

  yield start
  for p in started:
    p.terminate()
    p.wait(10)


def read_for(clients, seconds):
  end = time.monotonic() + seconds
  while time.monotonic() < end:
    ready, _, _ = select.select(clients, [], [], 0.1)
    for c in ready:
      assert c.pump(), 'the server closed a fast client'


def video_info(path):
  out = subprocess.run([os.path.join(BIN, 'video_info'), path], capture_output=True, text=True, check=True).stdout
  return json.loads(out)


def test_live_video_is_fragmented_mp4_from_a_keyframe(streamd, feed, tmp_path):
  feed('20', '256k')
  s = streamd('--log-root', tmp_path)
  assert wait_for(lambda: answers(s.port, '/live/video'), 10, 0.1), 'no live video'
  c = LiveClient(s.port)
  try:
    assert c.read_head() == 200 and c.start_ns > 0
    read_for([c], 2.0)
  finally:
    c.close()
  kinds = []
  data = c.data
  while len(data) >= 8:
    size, kind = struct.unpack('>I4s', data[:8])
    kinds.append(kind)
    data = data[size:]
  assert kinds[:2] == [b'ftyp', b'moov']
  assert set(kinds[2:]) <= {b'moof', b'mdat'} and kinds.count(b'moof') >= 10
  seqs = [f[0] for f in c.fragments]
  assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), 'fragments missing in between'
  (tmp_path / 'live.mp4').write_bytes(c.data[:len(c.data) - len(c.buf)])
  info = video_info(str(tmp_path / 'live.mp4'))
  assert info['width'] == 526 and info['height'] == 330
  assert info['frames'] == len(c.fragments) and info['keyframes'] >= 1
  # media time is capture time: fragment n+1 starts at frame n's timestampSof,
  # which precedes frame n's arrival by less than its send cost (not by frames)
  for (_, _, arrival), (_, tfdt_next, _) in zip(c.fragments, c.fragments[1:]):
    assert 0 <= arrival - (c.start_ns + tfdt_next * 100000 // 9) < 1_000_000_000


def test_slow_and_vanishing_clients_do_not_stall_a_fast_one(streamd, feed, tmp_path):
  feed('50', '4M')  # large fragments, so a slow reader falls behind within a second
  s = streamd('--log-root', tmp_path, '--live-stall-ms', 1000)
  assert wait_for(lambda: answers(s.port, '/live/video'), 10, 0.1), 'no live video'
  fast = LiveClient(s.port)
  slow = LiveClient(s.port, rcvbuf=4096)  # never reads after its head
  others = []
  try:
    assert fast.read_head() == 200 and slow.read_head() == 200
    fast.sock.setblocking(False)
    for i in range(10):
      o = LiveClient(s.port)
      o.read_head()
      others.append(o)
    read_for([fast] + others, 0.5)
    for i, o in enumerate(others):  # vanish: half close politely, half reset the connection
      if i % 2:
        o.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
      o.close()
    deadline = time.monotonic() + 10
    while s.stats()['live']['dropped_clients'] == 0 and time.monotonic() < deadline:
      read_for([fast], 0.2)
    before = len(fast.fragments)
    read_for([fast], 0.5)
    stats = s.stats()['live']
  finally:
    for c in [fast, slow] + others:
      c.close()
  assert stats['dropped_clients'] == 1, f'the slow client was not dropped: {stats}'
  assert stats['skipped'] >= 1, 'the slow client was never held back'
  assert stats['clients'] == 1, f'only the fast client should be left: {stats}'
  seqs = [f[0] for f in fast.fragments]
  assert len(fast.fragments) > before, 'the fast client got nothing after the slow one was dropped'
  assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), 'the fast client missed fragments'
  assert 0 < stats['spliced_bytes'] <= stats['teed_bytes']


def test_without_a_stream_live_video_is_503(streamd, tmp_path):
  s = streamd('--log-root', tmp_path)
  r = get(s.port, '/live/video')
  assert r.status == 503 and b'encoderd' in r.body
