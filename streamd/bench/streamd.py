"""streamd benchmark: serving a file with sendfile vs a read+write loop, and the
live relay's fan-out cost.

file_1GiB (impl sendfile / read_write): one 1 GiB segment file, warm in the
page cache, fetched whole by one client from two streamd servers that differ
only in --no-sendfile (read_write: pread into one 256 KiB buffer, send() it,
same socket options). The client stands for another machine:
  - The servers run in one network namespace and the client in another,
    joined by a veth pair (common/testing/netns.py).
  - Servers and client are pinned to different CPUs, and each end of the
    wire has its received packets processed on its own side's CPU (RPS).
    Without RPS a veth runs the receiver's TCP input (tcp_v4_rcv, queueing
    into the client's socket, waking the client) inside the sender's
    sendfile() or send(), billed to the server; with it, that work runs on
    the client's CPU, as the client machine's NIC interrupt would. The server
    keeps what is its own: the send path, the ACKs it receives (on its CPU),
    and handing each packet over, one interrupt to the client's CPU when
    that one had nothing queued (a virtual NIC's doorbell, in effect).
  - The sender's congestion control is reno, set in the servers' namespace.
    This host's default, BBR without the fq qdisc (this kernel has none),
    paces inside TCP: it arms an hrtimer whenever the next packet is not
    yet due. On a link with no bottleneck BBR paces to the sender's own
    speed, so the faster sender is held back by timers more often per GB:
    that measures the pacer, not the copies.
  - The servers' send buffers may grow to 32 MiB (tcp_wmem), a bulk-transfer
    host's setting, no smaller than the client's receive window. Then the
    receiver's window limits the sender, as the path's bandwidth-delay
    product does on a real network, and packets leave as ACKs open the
    window: from the ACK's softirq, many per hand-over to the client's CPU.
    With Linux's default cap (4 MiB) the sender on this sub-millisecond
    link is limited by its own buffer instead and sends each packet from
    its system call, each hand-over waking the client's CPU on its own.
    Softirq that runs while the server is not on its CPU is not billed to
    it (see cpu_s_per_gb): here that part is small next to the hand-overs
    saved.
Cases file_1GiB_wmem_default (the host's tcp_wmem) and
file_1GiB_<host default congestion control> (also the host's tcp_wmem;
only when that is not reno) show each choice's weight.
The link's MTU is 65535 (veth's largest; loopback's is 65536: one segment
per 64 KiB skb, as TSO gives a real NIC's sender); case file_1GiB_mtu1500
repeats it on an Ethernet-sized MTU. Per run, alternating:
  cpu_s_per_gb  the server's CPU seconds (all threads, its scheduler CPU
                clock: softirq work that runs in its context counts, that
                in other contexts does not) per GB sent (1e9 bytes)
  gb_per_s      GB per second of wall time of the transfer
Without root (no namespaces) the file cases run over loopback instead, on
the host's congestion control and unpinned: their case names end in
_loopback.

relay (cases clients_1|10|50): streamd_feed publishes a qcamera-like H.264
stream (526x330, 256 kbit/s) at 20 fps on the bus; N clients read /live/video
from streamd (impl relay: tee + splice) and, in the same run, from a second
streamd that send()s every fragment to every client from user space (impl
relay_write, --relay-copy: write() per client). Over a MEASURE_S window after everyone is connected:
  server_cores            streamd's CPU seconds per second (both threads: bus + loop)
  p99_lag_ms              arrival at the client minus the frame's timestampSof (the
                          feeder stamps it when publishing), over every fragment of
                          every client
  user_copies_per_packet  bytes streamd passed to write()-family syscalls (its
                          /proc wchar: splice and tee are not counted, and neither is
                          send(), which streamd uses only for HTTP heads and small
                          replies), minus the one write of each fragment into the
                          feed pipe (relay only) and the 8-byte eventfd wake-ups,
                          per fragment byte per client: 0 = nothing was copied per
                          client, 1 = every client got its own copy
Medians over REPEATS runs (STREAMD_BENCH_REPEATS, default 3).
"""
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from common.proc import cpu_seconds  # noqa: E402
from common.testing.netns import NetnsPair, NetnsUnavailable  # noqa: E402
from streamd.tests.http_client import get  # noqa: E402
from streamd.tests.live_client import LiveClient  # noqa: E402

BIN = os.path.join(ROOT, 'build', 'bin')
PYTHON = '/usr/bin/python3'
REPEATS = int(os.environ.get('STREAMD_BENCH_REPEATS', '3'))
FILE_BYTES = 1 << 30
CC, WMEM = 'net/ipv4/tcp_congestion_control', 'net/ipv4/tcp_wmem'
CLIENTS = (1, 10, 50)
WARMUP_S, MEASURE_S = 1.0, 5.0


def row(impl, case, metric, value, unit):
  return {'bench': 'streamd', 'impl': impl, 'case': case, 'metric': metric, 'value': value, 'unit': unit}


class Server:
  def __init__(self, *args, env=None, net=None, cpus=None):
    argv = [os.path.join(BIN, 'streamd'), '--port', '0', *args]
    if net is not None:  # side 0 of the namespaces, beyond loopback: a token is required
      argv += ['--bind', net.addrs[0], '--token', TOKEN]
      self.proc = net.popen(0, argv, cpus=cpus, env=env, stdout=subprocess.PIPE, text=True)
    else:
      self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    self.port = int(self.proc.stdout.readline().rsplit(':', 1)[1].strip('/\n'))

  def stop(self):
    self.proc.terminate()
    self.proc.wait(10)


TOKEN = 'bench'
# The client of the file cases: for each "HOST PORT PATH" line on stdin, GETs
# PATH whole into one reused buffer and prints the bytes received.
FETCHER = f"""import socket, sys
view = memoryview(bytearray(4 << 20))
for line in sys.stdin:
  host, port, path = line.split()
  with socket.create_connection((host, int(port))) as s:
    s.sendall(f'GET {{path}} HTTP/1.1\\r\\nHost: {{host}}\\r\\nAuthorization: Bearer {TOKEN}\\r\\n'
              'Connection: close\\r\\n\\r\\n'.encode())
    total = 0
    while (n := s.recv_into(view)):
      total += n
  print(total, flush=True)
"""


def file_case(tmp, net, case, cpus=(None, None)):
  """Rows of one file case; net None: over loopback. cpus: the servers' and the client's CPU sets."""
  servers = {'sendfile': Server('--no-live', '--log-root', tmp, net=net, cpus=cpus[0]),
             'read_write': Server('--no-live', '--no-sendfile', '--log-root', tmp, net=net, cpus=cpus[0])}
  argv = [PYTHON, '-c', FETCHER]
  client = (net.popen(1, argv, cpus=cpus[1], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) if net else
            subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
  host = net.addrs[0] if net else '127.0.0.1'

  def fetch(port):
    client.stdin.write(f'{host} {port} /routes/bench/0/fcamera.hevc\n')
    client.stdin.flush()
    return int(client.stdout.readline())

  got = {impl: {'cpu': [], 'rate': []} for impl in servers}
  try:
    fetch(servers['sendfile'].port)  # page cache warm
    for _ in range(REPEATS):
      for impl, s in servers.items():
        cpu0, t0 = cpu_seconds(s.proc.pid), time.monotonic()
        n = fetch(s.port)
        wall, cpu = time.monotonic() - t0, cpu_seconds(s.proc.pid) - cpu0
        assert n > FILE_BYTES, f'{impl}: got {n} bytes'
        got[impl]['cpu'].append(cpu / (FILE_BYTES / 1e9))
        got[impl]['rate'].append(FILE_BYTES / 1e9 / wall)
  finally:
    client.stdin.close()
    client.wait(10)
    for s in servers.values():
      s.stop()
  rows = []
  for impl, g in got.items():
    rows.append(row(impl, case, 'cpu_s_per_gb', statistics.median(g['cpu']), 's/GB'))
    rows.append(row(impl, case, 'gb_per_s', statistics.median(g['rate']), 'GB/s'))
  ratio = statistics.median(got['sendfile']['cpu']) / statistics.median(got['read_write']['cpu'])
  rows.append(row('sendfile', case, 'cpu_ratio_vs_read_write', ratio, 'x'))
  return rows


def file_rows(tmp):
  seg = os.path.join(tmp, 'bench--0')
  os.makedirs(seg)
  block = os.urandom(4 << 20)
  with open(os.path.join(seg, 'fcamera.hevc'), 'wb') as f:
    for _ in range(FILE_BYTES // len(block)):
      f.write(block)
  try:
    with NetnsPair() as net:
      cpus = sorted(os.sched_getaffinity(0))
      cpus = ({cpus[0]}, {cpus[1]}) if len(cpus) > 1 else (None, None)
      if cpus[0]:
        for side in (0, 1):
          net.set_rps(side, cpus[side])
      host = {key: net.sysctl(0, key) for key in (CC, WMEM)}
      tuned = {CC: 'reno', WMEM: f'4096 16384 {32 << 20}'}
      cases = [(tuned, 65535, 'file_1GiB'), (tuned, 1500, 'file_1GiB_mtu1500'),
               ({**tuned, WMEM: host[WMEM]}, 65535, 'file_1GiB_wmem_default')]
      if host[CC] != 'reno':  # first: a restricted algorithm may not be set back here
        cases.insert(0, (host, 65535, f'file_1GiB_{host[CC]}'))
      rows = []
      for settings, mtu, case in cases:
        for key, value in settings.items():
          if net.sysctl(0, key).split() != value.split():
            net.set_sysctl(0, key, value)
        for side in (0, 1):
          net.set_mtu(side, mtu)
        rows += file_case(tmp, net, case, cpus)
      return rows
  except NetnsUnavailable as e:
    print(f'streamd bench: {e}; the file cases run over loopback', file=sys.stderr)
    return file_case(tmp, None, 'file_1GiB_loopback')


def wchar(pid):
  with open(f'/proc/{pid}/io') as f:
    return next(int(ln.split()[1]) for ln in f if ln.startswith('wchar'))


def stats(port):
  return json.loads(get(port, '/stats').body)['live']


def relay_once(port, pid, n, fed_through_pipe):
  clients = [LiveClient(port) for _ in range(n)]
  try:
    for c in clients:
      assert c.read_head() == 200
      c.sock.setblocking(False)

    def pump(seconds):
      end = time.monotonic() + seconds
      while time.monotonic() < end:
        for c in select.select(clients, [], [], 0.1)[0]:
          assert c.pump(), 'the server closed a client'

    pump(WARMUP_S)
    marks = [len(c.fragments) for c in clients]
    w0 = wchar(pid)
    s0 = stats(port)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    pump(MEASURE_S)
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
    w1 = wchar(pid)
    s1 = stats(port)
  finally:
    for c in clients:
      c.close()
  frags, fbytes = s1['fragments'] - s0['fragments'], s1['fragment_bytes'] - s0['fragment_bytes']
  assert frags > 0 and s1['dropped_clients'] == s0['dropped_clients'], f'a client was dropped: {s1}'
  per_client = (w1 - w0 - (fbytes if fed_through_pipe else 0) - 8 * frags) / (fbytes * n)
  lags = [lag for c, m in zip(clients, marks) for lag in c.capture_lags_ms(m)]
  lags.sort()
  return cpu / wall, lags[int(0.99 * (len(lags) - 1))], per_client


def relay_rows(tmp):
  prefix = f'streamdbench{os.getpid()}'
  env = dict(os.environ, CONDUIT_PREFIX=prefix)
  feed = subprocess.Popen([os.path.join(BIN, 'streamd_feed'), '--fps', '20'], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
  servers = {}
  got = {(impl, n): ([], [], []) for impl in ('relay', 'relay_write') for n in CLIENTS}
  try:
    assert feed.stdout.readline().startswith('ready')
    servers = {'relay': Server('--log-root', tmp, env=env), 'relay_write': Server('--relay-copy', '--log-root', tmp, env=env)}
    deadline = time.monotonic() + 10
    for s in servers.values():
      while get(s.port, '/live/video', method='HEAD').status != 200:
        assert time.monotonic() < deadline, 'no live video from streamd_feed'
        time.sleep(0.1)
    for _ in range(REPEATS):
      for n in CLIENTS:
        for impl, s in servers.items():
          for lst, v in zip(got[impl, n], relay_once(s.port, s.proc.pid, n, impl == 'relay')):
            lst.append(v)
  finally:
    for s in servers.values():
      s.stop()
    feed.terminate()
    feed.wait(10)
    shutil.rmtree(f'/dev/shm/conduit_{prefix}', ignore_errors=True)
  rows = []
  for (impl, n), (cores, lag, copies) in got.items():
    case = f'clients_{n}'
    rows.append(row(impl, case, 'server_cores', statistics.median(cores), 'cores'))
    rows.append(row(impl, case, 'p99_lag_ms', statistics.median(lag), 'ms'))
    rows.append(row(impl, case, 'user_copies_per_packet', statistics.median(copies), 'copies/client'))
  return rows


def run():
  tmp = tempfile.mkdtemp(prefix='streamd-bench-')
  try:
    return file_rows(tmp) + relay_rows(tmp)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
