"""Receive statistics of live topics, shared by hz and bw: a sliding window of
(receive time, size) per topic, filled by one Poller over all of them."""
import math
import time
from collections import deque


class Window:
  def __init__(self, size):
    self.samples = deque(maxlen=size)  # (monotonic ns, bytes)
    self.lost = 0

  def add(self, t_ns, size):
    self.samples.append((t_ns, size))

  def stats(self):
    n = len(self.samples)
    out = {'count': n, 'lost': self.lost}
    if n < 2:
      return out
    times = [t for t, _ in self.samples]
    sizes = [s for _, s in self.samples]
    gaps = [(b - a) / 1e6 for a, b in zip(times, times[1:])]
    span_s = (times[-1] - times[0]) / 1e9
    mean = sum(gaps) / len(gaps)
    out.update({
      'hz': (n - 1) / span_s if span_s > 0 else math.inf,
      'mean_ms': mean, 'min_ms': min(gaps), 'max_ms': max(gaps),
      'std_ms': math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps)),
      # Bytes of the messages after the first, over the time they took to come.
      'bytes_per_s': sum(sizes[1:]) / span_s if span_s > 0 else math.inf,
      'mean_bytes': sum(sizes) / n, 'min_bytes': min(sizes), 'max_bytes': max(sizes),
    })
    return out


def watch(windows, interval, duration, report):
  """Receives on every topic of `windows` and calls report() every `interval`
  seconds, until `duration` seconds passed (0: until Ctrl-C). While nothing
  came, says once on stderr why (tools.lib.cli.waiting_hint)."""
  from tools.lib.cli import live_bus
  with live_bus():
    return _watch(windows, interval, duration, report)


def _watch(windows, interval, duration, report):
  import sys

  import cereal.messaging as messaging
  from tools.lib.cli import waiting_hint
  poller = messaging.Poller()
  socks = {}
  for name in windows:
    socks[name] = messaging.sub_sock(name, poller=poller, timeout=0)
  start = time.monotonic()
  next_report = start + interval
  hinted = False
  while not duration or time.monotonic() - start < duration:
    timeout_ms = max(0, int((next_report - time.monotonic()) * 1000))
    for sock in poller.poll(timeout_ms):
      name = sock.topic
      while (dat := sock.receive(non_blocking=True)) is not None:
        windows[name].add(time.monotonic_ns(), len(dat))
    if time.monotonic() >= next_report:
      for name, s in socks.items():
        windows[name].lost = s.lost()
      report()
      if not hinted and not any(w.samples for w in windows.values()):
        print(f"no message yet: {waiting_hint(list(windows))}", file=sys.stderr, flush=True)
        hinted = True
      next_report += interval
  return 0
