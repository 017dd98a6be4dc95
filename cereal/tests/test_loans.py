"""Loans and views from Python: messages built in the ring by new_message,
read in place by SubMaster and as MessageViews (memoryview, numpy,
log_from_bytes), never torn, counted exactly."""
import multiprocessing
import os
import signal

import numpy as np
import pytest

import cereal.messaging as messaging
from cereal._cereal import PubSocket, SubSocket

LOANED = "testLargeMessage"


def payload(seq, size):
  """seq (8 bytes), then bytes that follow from seq."""
  body = ((seq * 131 + np.arange(8, size, dtype=np.uint64) * 7) & 0xff).astype(np.uint8)
  return np.concatenate([np.frombuffer(np.uint64(seq).tobytes(), np.uint8), body])


def whole(buf):
  arr = np.frombuffer(buf, dtype=np.uint8)
  seq = int(arr[:8].view(np.uint64)[0])
  return seq, np.array_equal(arr, payload(seq, len(arr)))


def large_message(seq, data):
  msg = messaging.new_message(LOANED)
  msg.testLargeMessage.seq = seq
  msg.testLargeMessage.payload = data
  return msg


def test_new_message_builds_in_place_and_submaster_reads_in_place():
  pm = messaging.PubMaster([LOANED])
  sm = messaging.SubMaster([LOANED])
  sock = messaging.sub_sock(LOANED)
  data = payload(7, 300_000).tobytes()
  msg = large_message(7, data)
  pm.send(LOANED, msg)
  with pytest.raises(messaging.MsgqError, match="sent once"):
    pm.send(LOANED, msg)
  sm.update(0)
  assert sm.updated[LOANED]
  assert sm[LOANED].seq == 7 and sm[LOANED].payload == data
  assert sm.intact(LOANED)

  view = sock.receive_view(non_blocking=True)
  assert view.intact() and view.seq == 0
  arr = np.frombuffer(view, dtype=np.uint8)
  assert not arr.flags.writeable
  with pytest.raises(TypeError):
    memoryview(view)[0] = 1
  event = messaging.log_from_bytes(view)  # in place, in the ring
  assert event.which() == LOANED and event.testLargeMessage.payload == data
  assert view.intact()
  assert sock.receive_view(non_blocking=True) is None


def test_overwritten_while_held_is_reported_and_counted():
  pm = messaging.PubMaster([LOANED])
  sm = messaging.SubMaster([LOANED])
  size = 1 << 20
  first = payload(0, size).tobytes()
  pm.send(LOANED, large_message(0, first))
  sm.update(0)
  assert sm[LOANED].payload == first and sm.intact(LOANED)
  lap = messaging.SERVICE_LIST[LOANED].ring_size // size + 1
  for seq in range(1, lap + 1):
    pm.send(LOANED, large_message(seq, payload(seq, size).tobytes()))
  assert not sm.intact(LOANED)
  assert sm.lost[LOANED] == 1


def flood(topic, ring, n, progress, sizes):
  pub = PubSocket(topic, ring)
  progress.value = -1  # ready
  for seq in range(n):
    size = sizes[seq % len(sizes)]
    buf = pub.loan(size)
    buf[:] = payload(seq, size).tobytes()
    pub.commit(size)
    progress.value = seq
  pub.send(b"")


def test_flooded_views_are_whole_or_reported_overwritten():
  """A publisher process floods a 64 KiB ring with loans; this process reads
  views, holding every 25th until the publisher is a ring and a half past it.
  Each view checks whole or reports itself overwritten (held ones must); whole
  views plus lost() are everything sent."""
  topic, ring, n = "pyflood", 64 * 1024, 3000
  sub = SubSocket(topic, ring_size=ring, timeout_ms=10000)
  ctx = multiprocessing.get_context("fork")
  progress = ctx.Value("q", -2)
  proc = ctx.Process(target=flood, args=(topic, ring, n, progress, [4096, 6000, 8192, 5000]))
  proc.start()
  try:
    whole_views, overwritten, held, last = 0, 0, 0, -1
    for i in range(10**6):
      view = sub.receive_view()
      assert view is not None, "timed out"
      if len(view) == 0:
        break
      seq, checks = whole(view)
      if i % 25 == 0 and view.seq + 20 < n:
        while progress.value < view.seq + 20:
          pass
        held += 1
        assert not view.intact(), "a lapped view reported intact"
        overwritten += 1
        continue
      if not view.intact():
        overwritten += 1
        continue
      assert checks, f"torn view {view.seq} reported intact"
      assert seq == view.seq and seq > last
      last = seq
      whole_views += 1
    assert view.seq == n
    assert whole_views + sub.lost() == n
    assert held > 0 and whole_views > 0 and overwritten <= sub.lost()
  finally:
    proc.join(30)
    if proc.is_alive():
      proc.kill()
  assert proc.exitcode == 0


def lend_and_die(topic, ring):
  pub = PubSocket(topic, ring)
  pub.send(payload(0, 64).tobytes())
  buf = pub.loan(4096)
  buf[:] = payload(1, 4096).tobytes()
  os.kill(os.getpid(), signal.SIGKILL)


def test_publisher_killed_mid_loan_leaves_nothing_readable():
  topic, ring = "pykill", 64 * 1024
  sub = SubSocket(topic, ring_size=ring, timeout_ms=0)
  proc = multiprocessing.get_context("fork").Process(target=lend_and_die, args=(topic, ring))
  proc.start()
  proc.join(30)
  assert proc.exitcode == -signal.SIGKILL
  first = sub.receive_view(non_blocking=True)
  assert whole(first) == (0, True) and first.intact()
  assert sub.receive_view(non_blocking=True) is None
  assert sub.receive(non_blocking=True) is None
  pub = PubSocket(topic, ring)
  pub.send(payload(2, 64).tobytes())
  view = sub.receive_view(non_blocking=True)
  assert whole(view) == (2, True) and view.seq == 1 and sub.lost() == 0
