"""tools/bench/run messaging: delivered messages per second for one small Event
(a `can` message with one 8-byte frame, 96 bytes serialized), publisher and
subscriber in separate processes, every transport in the same run.

  python       cereal.messaging.SubMaster.update() receive rate (C++ raw publisher)
  python_send  new_message + field set + PubMaster.send rate (C++ SubMaster draining)
  pyzmq        pyzmq SUB recv() rate of the same bytes (libzmq PUB over ipc://)
  cpp          C++ SubMaster receive rate from a C++ PubMaster sending the same
               bytes: the C++ messaging path, end to end
  cpp_send     MessageBuilder + fill + PubMaster::send rate (C++ SubMaster draining):
               what building each message adds, as python_send measures it for Python
  msgq_raw     msgq SubSocket receive rate from a PubSocket sending the same bytes
  line_handoff one cache line passed between two threads, per second: no
               transport, the hardware's floor under a subscriber that keeps up

`cpp` and `msgq_raw` differ only in what cereal adds around msgq: the service
lookup on send; on receive, checking the Event, keeping its holder, recording
the receive time for the rate (alive and freq_ok are judged only when asked),
and the loop's lookups by name (both loops read the clock once per message).
Building a Cap'n Proto message is the same work for any transport and is
measured apart, in the *_send rows.

The backlog_msgs_per_s rows (python, cpp, msgq_raw) read BACKLOG messages that
were all written before the subscriber read any: how fast a subscriber catches up,
with no publisher running and nothing overwritten; the lines come from the other
core's caches or from memory, as in a real backlog. Unlike the flat-out rows, they
do not depend on whether the publisher laps the subscriber (below).

Each runs REPEATS times for SECONDS; rows are medians. Publishers send flat out, so
a receive rate is the slower of sender and receiver, and on a loaded machine it
also follows each process's share of the CPUs. Both C++ subscribers wait alike
(a 10 us look, then a futex sleep). A subscriber much slower than its publisher
reads lines the writer has left (lapped, it skips ahead and counts the loss); one
about as fast follows it closely and then pays at least one cache line crossing
between the cores per message, which line_handoff measures. The two regimes are
sticky: a lapped subscriber resumes half a ring back, in colder lines, and tends
to be lapped again, so a flat-out rate can halve from one run to the next
depending on which regime a subscriber fell into. The second metric,
cpu_ns_per_msg, is the receiving (for *_send: sending) process's CPU time per
message, all its threads included: the cost, less sensitive to load, but it
counts a caught-up subscriber's look for the next message. lost_pct: the share of
the messages sent that a C++ subscriber never saw (lapped)."""
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from common.testing.prefix import scoped_prefix

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "build", "bin", "cereal_bench")
SECONDS = float(os.environ.get("CEREAL_BENCH_SECONDS", "0.6"))
REPEATS = int(os.environ.get("CEREAL_BENCH_REPEATS", "5"))
IDLE_MS = 300
# The backlog rows: messages written before the subscriber reads any, about 70% of
# the can ring (2 MiB, 112 bytes a message), so none is overwritten.
BACKLOG = 13000
BACKLOG_IDLE_MS = 20


@contextlib.contextmanager
def _subscriber(kind, gated=False):
  """A cereal_bench subscriber, ready to receive (gated: once a line is written to its
  stdin); killed on the way out if still running."""
  args = [BENCH, "sub", kind, str(BACKLOG_IDLE_MS), "gated"] if gated else [BENCH, "sub", kind, str(IDLE_MS)]
  proc = subprocess.Popen(args, stdin=subprocess.PIPE if gated else None, stdout=subprocess.PIPE, text=True)
  try:
    if proc.stdout.readline() != "ready\n":
      raise RuntimeError(f"cereal_bench sub {kind} did not start")
    yield proc
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()


def _run_pub(kind, *extra):
  """(msgs/s, CPU ns per message) of a cereal_bench publisher."""
  out = subprocess.run([BENCH, "pub", kind, str(SECONDS), *extra], check=True, capture_output=True, text=True).stdout
  sent, ns, cpu = (int(x) for x in out.split())
  return sent / (ns * 1e-9), cpu / sent


def _sub_counts(proc):
  """(count, ns first..last, lost, CPU ns): what a cereal_bench subscriber printed."""
  out, _ = proc.communicate(timeout=60)
  return tuple(int(x) for x in out.split())


def _sub_result(proc):
  """(msgs/s, CPU ns per message, % of messages lost) of a cereal_bench subscriber."""
  count, ns, lost, cpu = _sub_counts(proc)
  return (count / (ns * 1e-9), cpu / count, 100.0 * lost / (count + lost)) if ns and count else (0.0, 0.0, 0.0)


def _python_receive(sm, first_timeout_ms, idle_ms):
  """(count, seconds first..last, CPU seconds from the first) of sm.update() taking
  'can' messages until idle_ms pass without one."""
  count, first, last, cpu_first = 0, 0.0, 0.0, 0.0
  update, updated = sm.update, sm.updated
  while True:
    update(idle_ms if count else first_timeout_ms)
    if not updated["can"]:
      break
    last = time.monotonic()
    if count == 0:
      first, cpu_first = last, time.process_time()
    count += 1
  return count, last - first, time.process_time() - cpu_first


def _backlog_result(rate, count):
  if count != BACKLOG:
    raise RuntimeError(f"backlog: read {count} of {BACKLOG} messages")
  return rate


def cpp_backlog_rate(kind):
  with _subscriber(kind, gated=True) as sub:
    subprocess.run([BENCH, "fill", kind, str(BACKLOG)], check=True, capture_output=True)
    sub.stdin.write("go\n")
    sub.stdin.flush()
    count, ns, _, _ = _sub_counts(sub)
  return _backlog_result(count / (ns * 1e-9), count)


def python_backlog_rate():
  import cereal.messaging as messaging
  sm = messaging.SubMaster(["can"])
  subprocess.run([BENCH, "fill", "raw", str(BACKLOG)], check=True, capture_output=True)
  count, seconds, _ = _python_receive(sm, 0, 0)
  return _backlog_result(count / seconds, count)


def cpp_rate(pub_kind, sub_kind):
  with _subscriber(sub_kind) as sub:
    _run_pub(pub_kind)
    return _sub_result(sub)


def cpp_send_rate():
  with _subscriber("master") as sub:
    rate, cpu = _run_pub("build")
    return rate, cpu, _sub_result(sub)[2]


def line_handoff_rate():
  out = subprocess.run([BENCH, "handoff", str(SECONDS)], check=True, capture_output=True, text=True).stdout
  handoffs, ns = (int(x) for x in out.split())
  return (handoffs / (ns * 1e-9), None, None)


def python_receive_rate():
  import cereal.messaging as messaging
  sm = messaging.SubMaster(["can"])
  pub = subprocess.Popen([BENCH, "pub", "raw", str(SECONDS)], stdout=subprocess.DEVNULL)
  try:
    count, seconds, cpu = _python_receive(sm, 30000, IDLE_MS)
    return (count / seconds, cpu * 1e9 / count, None) if seconds > 0 else (0.0, 0.0, None)
  finally:
    pub.wait()


def python_send_rate():
  import cereal.messaging as messaging
  with _subscriber("master") as sub:
    pm = messaging.PubMaster(["can"])
    dat = bytes(range(1, 9))
    n = 0
    start, cpu_start = time.monotonic(), time.process_time()
    end = start + SECONDS
    while True:
      for _ in range(256):
        msg = messaging.new_message("can", 1)
        frame = msg.can[0]
        frame.address = 0x123
        frame.busTime = n & 0xffff
        frame.src = 1
        frame.dat = dat
        pm.send("can", msg)
        n += 1
      now = time.monotonic()
      if now >= end:
        break
    result = (n / (now - start), (time.process_time() - cpu_start) * 1e9 / n, None)
    _sub_result(sub)
    return result


def pyzmq_rate():
  import zmq
  tmp = tempfile.mkdtemp(prefix="cereal_bench_")
  endpoint = f"ipc://{tmp}/can"
  ctx = zmq.Context()
  sock = ctx.socket(zmq.SUB)
  sock.setsockopt(zmq.SUBSCRIBE, b"")
  sock.setsockopt(zmq.RCVTIMEO, 30000)
  pub = subprocess.Popen([BENCH, "pub", "zmq", str(SECONDS), endpoint], stdout=subprocess.DEVNULL)
  try:
    for _ in range(100):  # the publisher binds; connect once the socket file exists
      if os.path.exists(f"{tmp}/can"):
        break
      time.sleep(0.01)
    sock.connect(endpoint)
    count, first, last, cpu_first = 0, 0.0, 0.0, 0.0
    recv = sock.recv
    while True:
      try:
        recv()
      except zmq.Again:
        break
      last = time.monotonic()
      if count == 0:
        first, cpu_first = last, time.process_time()
        sock.setsockopt(zmq.RCVTIMEO, IDLE_MS)
      count += 1
    cpu = time.process_time() - cpu_first  # includes libzmq's I/O thread
    return (count / (last - first), cpu * 1e9 / count, None) if last > first else (0.0, 0.0, None)
  finally:
    pub.wait()
    sock.close(linger=0)
    ctx.term()
    shutil.rmtree(tmp, ignore_errors=True)


def run():
  if not os.path.exists(BENCH):
    raise RuntimeError(f"{BENCH} is missing: build it with `scons build/bin/cereal_bench`")
  impls = {
    "python": python_receive_rate,
    "python_send": python_send_rate,
    "pyzmq": pyzmq_rate,
    "cpp": lambda: cpp_rate("master", "master"),
    "cpp_send": cpp_send_rate,
    "msgq_raw": lambda: cpp_rate("raw", "raw"),
    "line_handoff": line_handoff_rate,
  }
  backlog = {
    "python": python_backlog_rate,
    "cpp": lambda: cpp_backlog_rate("master"),
    "msgq_raw": lambda: cpp_backlog_rate("raw"),
  }
  samples = {name: [] for name in impls}
  backlog_samples = {name: [] for name in backlog}
  with scoped_prefix(f"cerealbench{os.getpid()}"):
    for _ in range(REPEATS):  # interleaved, so load changes hit every impl alike
      for name, fn in impls.items():
        samples[name].append(fn())
      for name, fn in backlog.items():
        backlog_samples[name].append(fn())
  rows = []
  for metric, unit, k in (("msgs_per_s", "msgs/s", 0), ("cpu_ns_per_msg", "ns", 1), ("lost_pct", "%", 2)):
    for name, values in samples.items():
      if values[0][k] is None:
        continue
      rows.append({"bench": "messaging", "impl": name, "case": "small", "metric": metric,
                   "value": statistics.median(v[k] for v in values), "unit": unit})
  for name, values in backlog_samples.items():
    rows.append({"bench": "messaging", "impl": name, "case": "small", "metric": "backlog_msgs_per_s",
                 "value": statistics.median(values), "unit": "msgs/s"})
  return rows
