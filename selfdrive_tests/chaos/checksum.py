"""The checksummed test service of the chaos suite: `pub` publishes raw messages
on topic `chaosChecksum` (seq, length, random bytes, CRC-32), `sub` receives and
checks every one. A message whose CRC does not match is a torn message: the bus
handed out bytes that were never published as one message.

  python -m selfdrive_tests.chaos.checksum pub|sub

sub writes its counts to $CHAOS_STATS_DIR/sub-<pid>.json (atomically, every
0.2 s and when stopped), so the counts of a subscriber that is SIGKILLed survive
it up to that period: {"received", "torn", "lost", "errors", "last_seq"}.
"""
import json
import os
import random
import signal
import struct
import sys
import time
import zlib

TOPIC = 'chaosChecksum'
RATE_HZ = 200
_HEAD = struct.Struct('<QI')  # seq, payload length


def encode(seq, payload):
  body = _HEAD.pack(seq, len(payload)) + payload
  return body + struct.pack('<I', zlib.crc32(body))


def check(dat):
  """(seq, ok): ok is False for a torn or damaged message."""
  if len(dat) < _HEAD.size + 4:
    return None, False
  seq, n = _HEAD.unpack_from(dat)
  body, crc = dat[:-4], struct.unpack_from('<I', dat, len(dat) - 4)[0]
  return seq, n == len(dat) - _HEAD.size - 4 and zlib.crc32(body) == crc


def publish():
  from cereal.messaging import PubSocket
  sock = PubSocket(TOPIC, 1 << 20)
  rng = random.Random(os.getpid())
  seq, t = 0, time.monotonic()
  while True:
    sock.send(encode(seq, rng.randbytes(rng.choice((8, 64, 500, 3000, 20000)))))
    seq += 1
    t += 1.0 / RATE_HZ
    time.sleep(max(0.0, t - time.monotonic()))


def subscribe():
  from cereal.messaging import MsgqError, SubSocket
  stats_dir = os.environ['CHAOS_STATS_DIR']
  path = os.path.join(stats_dir, f'sub-{os.getpid()}.json')
  stats = {'received': 0, 'torn': 0, 'lost': 0, 'errors': 0, 'last_seq': -1}

  def save():
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
      json.dump(stats, f)
    os.replace(tmp, path)
  stopping = []
  for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: stopping.append(1))
  sock = SubSocket(TOPIC, ring_size=1 << 20, timeout_ms=100)
  next_save = 0.0
  while not stopping:
    try:
      dat = sock.receive()
    except MsgqError as e:  # a damaged ring says why; the subscriber goes on
      stats['errors'] += 1
      print(f'checksum sub: {e}', file=sys.stderr, flush=True)
      dat = None
    if dat is not None:
      seq, ok = check(dat)
      stats['received'] += 1
      if not ok:
        stats['torn'] += 1
        print(f'checksum sub: TORN message of {len(dat)} bytes (seq {seq})', file=sys.stderr, flush=True)
      else:
        stats['last_seq'] = seq
    stats['lost'] = sock.lost()
    if time.monotonic() >= next_save:
      save()
      next_save = time.monotonic() + 0.2
  save()


def read_stats(stats_dir):
  """The counts of every subscriber run so far, summed."""
  total = {'received': 0, 'torn': 0, 'lost': 0, 'errors': 0}
  for name in os.listdir(stats_dir) if os.path.isdir(stats_dir) else []:
    if name.startswith('sub-') and name.endswith('.json'):
      try:
        with open(os.path.join(stats_dir, name)) as f:
          s = json.load(f)
      except (OSError, ValueError):
        continue
      for k in total:
        total[k] += s.get(k, 0)
  return total


if __name__ == '__main__':
  {'pub': publish, 'sub': subscribe}[sys.argv[1]]()
