"""tools/bench/run bridge: the bus between two hosts, on one machine. Two
network namespaces joined by a veth pair (common/testing/netns.py) stand for
the hosts; the same run measures

  zmq_tcp  raw libzmq PUB/SUB over tcp between them (the floor), and
  bridge   msgq on A -> bridge -> tcp -> bridge -> msgq on B,

for 64 B and 4 KiB payloads and real qcamera packets (qRoadEncodeData, taken
from the pipeline run below), with build/bin/bridge_bench at both ends:
  p50_us, p99_us  one-way latency at a steady rate (send time in the message)
  msgs_per_s      delivered rate when the sender goes flat out (what arrived, over
                  the time from the first one's sending to the last one's arrival)
  delivered_pct   how much of that flat-out run arrived (the rest was dropped)
  cpu_ns_per_msg  CPU of both bridges per delivered message (zmq_tcp: of the
                  raw sender and receiver), over the flat-out run
and, as `ratio` rows, bridge p50 minus zmq_tcp p50 and bridge/zmq_tcp msgs_per_s.
`bridge_rt`: the same bridge path with both bridges SCHED_FIFO on one CPU
(`--rt 10 --cpu N`, N the last CPU: on separate hosts each bridge would have one
of its own), the opt-in tuning, beside the plain one (ratio rows rt_p50_added_us,
rt_msgs_per_s_ratio).
`msgq_hop` (p50_us, p99_us): one local msgq hop, publisher to subscriber on one
bus, at the same rate: the bridge path has two more of them than zmq_tcp (into
the sending bridge, out of the receiving one), so zmq_tcp p50 + 2 msgq_hop p50
(ratio row p50_floor_us) is what a bridge that adds nothing else can reach.

`pipeline`: the default pipeline (manager) on A's bus with every logged service
and qcamera bridged to B (`--publish all,qRoadEncodeData`): messages lost on
the way (bridgeState of both bridges) and the CPU of both bridges together.
`stage_*_p50_us` (impl bridge): where one message's time goes on the bridge
path, from a separate latency run with `bridge --trace` and the receiver's
stamps (CLOCK_MONOTONIC at each step, joined per message):
  publisher_to_relay   publisher's send -> the sending bridge wakes for it (a msgq hop)
  relay_out            that wake -> the message received from msgq
  zmq                  received -> the receiving bridge wakes for it (zmq_send, both
                       libzmq I/O threads, tcp over the veth pair: what zmq_tcp measures)
  relay_in             that wake -> the message received from libzmq
  msgq_to_subscriber   received -> the subscriber wakes with it (msgq send and a hop)

Needs root for the namespaces."""
import bisect
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin')
PYTHON = '/usr/bin/python3'
PORTS = {'bridge': 9000, 'bridge_rt': 9100, 'traced': 9200}  # bridge base ports, one per pair of bridges
RAW_PORT = 9500
CASES = {  # case: (bridge_bench payload arguments, latency rate Hz, flat-out count)
  '64B': (['--size', '64'], 500, 100000),
  '4KiB': (['--size', '4096'], 500, 40000),
  'qcamera': (None, 200, 4000),
}
PIPELINE_SECONDS = float(os.environ.get('BRIDGE_BENCH_PIPELINE_SECONDS', 20))
PIPELINE_SERVICES = 'all,qRoadEncodeData'


def cpu_ns(pid):
  """CPU time of all of pid's threads so far, in ns (/proc schedstat)."""
  total = 0
  for tid in os.listdir(f'/proc/{pid}/task'):
    with open(f'/proc/{pid}/task/{tid}/schedstat') as f:
      total += int(f.read().split()[0])
  return total


def row(impl, case, metric, value, unit):
  return {'bench': 'bridge', 'impl': impl, 'case': case, 'metric': metric, 'value': value, 'unit': unit}


def env_for(prefix, port=PORTS['bridge']):
  env = dict(os.environ, CONDUIT_PREFIX=prefix, CONDUIT_BRIDGE_PORT=str(port), PYTHONPATH=ROOT)
  env.pop('CONDUIT_BRIDGE_KEY', None)
  return env


def start_bridges(net, pa, pb, services, pair='bridge', extra=(), traces=(None, None)):
  """The sending bridge on side 0 (bus pa), the receiving one on side 1 (bus pb),
  on the pair's ports, each with `extra` arguments and its --trace file if given."""
  a = net.popen(0, [f'{BIN}/bridge', '--publish', services, '--bind', net.addrs[0], *extra] +
                (['--trace', traces[0]] if traces[0] else []), env=env_for(pa, PORTS[pair]), stderr=subprocess.PIPE,
                text=True)
  b = net.popen(1, [f'{BIN}/bridge', '--from', net.addrs[0], '--subscribe', services, *extra] +
                (['--trace', traces[1]] if traces[1] else []), env=env_for(pb, PORTS[pair]), stderr=subprocess.PIPE,
                text=True)
  for p in (a, b):
    line = p.stderr.readline()
    if not line.startswith('bridge: publishing'):
      raise RuntimeError(f'bridge did not start: {line}{p.stderr.read()}')
    threading.Thread(target=p.stderr.read, daemon=True).start()
  return a, b


def measure(net, send_at, recv_at, payload, count, rate, event, cpu_pids, prefixes, trace=None):
  """One bridge_bench run: receiver started first, the sender told to go once
  the receiver has a warm-up message. Returns (received, p50, p99, rate, cpu ns)."""
  extra = payload + (['--event'] if event else [])
  recv_cmd = [f'{BIN}/bridge_bench', 'recv', recv_at] + (['--event'] if event else []) + (['--trace', trace] if trace else [])
  send_cmd = [f'{BIN}/bridge_bench', 'send', send_at, '--count', str(count), '--rate', str(rate)] + extra
  if send_at.startswith('zmq:'):
    recv = net.popen(1, recv_cmd, stdout=subprocess.PIPE, text=True)
    send = net.popen(0, send_cmd, stdin=subprocess.PIPE, text=True)
  else:
    recv = subprocess.Popen(recv_cmd, env=env_for(prefixes[1]), stdout=subprocess.PIPE, text=True)
    send = subprocess.Popen(send_cmd, env=env_for(prefixes[0]), stdin=subprocess.PIPE, text=True)
  try:
    if recv.stdout.readline().strip() != 'ready':
      raise RuntimeError('bridge_bench receiver got nothing')
    pids = cpu_pids or [send.pid, recv.pid]
    cpu0 = sum(cpu_ns(p) for p in pids)
    send.stdin.write('go\n')
    send.stdin.flush()
    out = recv.stdout.readline().split()
    cpu = sum(cpu_ns(p) for p in pids) - cpu0
    recv.wait(10)
    send.wait(10)
  finally:
    for p in (send, recv):
      if p.poll() is None:
        p.kill()
        p.wait()
  stats = dict(zip(out[::2], out[1::2]))
  return int(stats['received']), float(stats['p50_us']), float(stats['p99_us']), float(stats['msgs_per_s']), cpu


STAGES = ('publisher_to_relay', 'relay_out', 'zmq', 'relay_in', 'msgq_to_subscriber')


def stage_p50s(topic, sending, receiving, subscriber):
  """{stage: p50 us} from the two bridges' --trace files and the subscriber's.
  The bridges carry the publisher's sequence number across; a subscriber's
  message is the one the receiving bridge took last before it woke."""
  def lines(path):
    with open(path) as f:
      return [line.split() for line in f]
  out = {int(seq): (int(woke), int(got)) for d, name, seq, woke, got, _ in lines(sending) if d == 'out' and name == topic}
  into = sorted((int(got), int(woke), int(seq)) for d, name, seq, woke, got, _ in lines(receiving) if d == 'in' and name == topic)
  got_at = [g for g, _, _ in into]
  spans = []
  for _, sent, woke in lines(subscriber):
    i = bisect.bisect_right(got_at, int(woke)) - 1
    if i < 0 or into[i][2] not in out:
      continue
    t = (int(sent), *out[into[i][2]], into[i][1], into[i][0], int(woke))
    if list(t) == sorted(t):  # else the join went wrong: leave it out
      spans.append([b - a for a, b in zip(t, t[1:])])
  if len(spans) < 10:
    raise RuntimeError(f'--trace joined only {len(spans)} messages')
  return {stage: statistics.median(s[i] for s in spans) / 1e3 for i, stage in enumerate(STAGES)}


def bridge_states(sub, messaging):
  msgs = messaging.drain_sock(sub)
  return {(s.name, str(s.direction)): s for s in msgs[-1].bridgeState.services} if msgs else {}


def run_pipeline(net, pa, pb, tmp, packets_path):
  """The default pipeline on A, bridged to B: (rows, qcamera packets written)."""
  sys.path.insert(0, ROOT)
  import cereal.messaging as messaging
  from manager.params import Params

  env = dict(env_for(pa), CONDUIT_LOG_ROOT=os.path.join(tmp, 'routes'), CONDUIT_PARAMS_DIR=os.path.join(tmp, 'params'))
  os.makedirs(env['CONDUIT_PARAMS_DIR'], mode=0o700)
  Params(env['CONDUIT_PARAMS_DIR']).put('LogRoot', env['CONDUIT_LOG_ROOT'])
  os.environ['CONDUIT_PREFIX'] = pa
  qcam = messaging.sub_sock('qRoadEncodeData', timeout=100)
  state_a = messaging.sub_sock('bridgeState', timeout=0)
  os.environ['CONDUIT_PREFIX'] = pb
  state_b = messaging.sub_sock('bridgeState', timeout=0)
  a, b = start_bridges(net, pa, pb, PIPELINE_SERVICES)
  time.sleep(1.0)
  mgr = subprocess.Popen([PYTHON, '-m', 'manager.manager', '--duration', str(PIPELINE_SECONDS)], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  packets = []
  try:
    warm_until = time.monotonic() + 6
    while time.monotonic() < warm_until:
      dat = qcam.receive()
      if dat is not None and len(packets) < 400:
        packets.append(dat)
    t0, cpu0 = time.monotonic(), cpu_ns(a.pid) + cpu_ns(b.pid)
    while mgr.poll() is None and time.monotonic() - t0 < PIPELINE_SECONDS - 8:
      dat = qcam.receive()
      if dat is not None and len(packets) < 400:
        packets.append(dat)
    t1, cpu1 = time.monotonic(), cpu_ns(a.pid) + cpu_ns(b.pid)
    mgr.wait(timeout=PIPELINE_SECONDS + 30)
  finally:
    if mgr.poll() is None:
      mgr.terminate()
      mgr.wait(30)
  time.sleep(1.5)  # the last messages cross
  net.stop(a)
  net.stop(b)
  sa, sb = bridge_states(state_a, messaging), bridge_states(state_b, messaging)
  sent = sum(s.messages for (n, d), s in sa.items() if d == 'publish' and n != 'bridgeState')
  got = sum(s.messages for (n, d), s in sb.items() if d == 'subscribe')
  lost = (sent - got) + sum(s.lost + s.dropped for s in sb.values()) + sum(s.lost + s.dropped for s in sa.values())
  with open(packets_path, 'wb') as f:
    for p in packets:
      f.write(struct.pack('<I', len(p)) + p)
  return [
    row('bridge', 'pipeline', 'messages', got, 'msgs'),
    row('bridge', 'pipeline', 'services', len(sb), 'services'),
    row('bridge', 'pipeline', 'lost', lost, 'msgs'),
    row('bridge', 'pipeline', 'cpu_pct_of_core', 100.0 * (cpu1 - cpu0) / 1e9 / (t1 - t0), '%'),
  ], len(packets)


def traced_stages(net, pt, tmp, case, topic, payload, rate, event):
  """Stage rows of `case` from a latency run through a pair of bridges with --trace."""
  traces = [os.path.join(tmp, f'{case}.{side}.trace') for side in ('a', 'b', 'subscriber')]
  a, b = start_bridges(net, pt + 'a', pt + 'b', topic, 'traced', traces=traces[:2])
  time.sleep(0.5)
  measure(net, f'msgq:{topic}', f'msgq:{topic}', payload, rate * 2, rate, event, [a.pid, b.pid], (pt + 'a', pt + 'b'),
          trace=traces[2])
  net.stop(a)
  net.stop(b)
  return [row('bridge', case, f'stage_{stage}_p50_us', v, 'us') for stage, v in stage_p50s(topic, *traces).items()]


def run():
  sys.path.insert(0, ROOT)
  from common.testing.netns import NetnsPair

  tag = f'bridgebench{os.getpid()}'
  pa, pb, pc, pt = tag + 'a', tag + 'b', tag + 'c', tag + 't'  # pc: a bus without a bridge; pt: traced
  tmp = tempfile.mkdtemp(prefix='bridge_bench_')
  packets_path = os.path.join(tmp, 'qcamera.packets')
  rows = []
  try:
    with NetnsPair() as net:
      pipeline_rows, n_packets = run_pipeline(net, pa, pb, tmp, packets_path)
      if n_packets == 0:
        raise RuntimeError('the pipeline produced no qRoadEncodeData packets')
      services = 'testMessage,qRoadEncodeData'
      bridges = {'bridge': start_bridges(net, pa, pb, services),
                 'bridge_rt': start_bridges(net, pa + 'rt', pb + 'rt', services, 'bridge_rt',
                                            ['--rt', '10', '--cpu', str(max(os.sched_getaffinity(0)))])}
      time.sleep(0.5)
      results = {}
      for case, (payload, rate, count) in CASES.items():
        event = payload is None
        payload = ['--packets', packets_path] if event else payload
        topic = 'qRoadEncodeData' if event else 'testMessage'
        zmq_at = f'zmq:tcp://{net.addrs[0]}:{RAW_PORT}'
        for impl, send_at, recv_at, pids, buses in (
            ('zmq_tcp', zmq_at, zmq_at, None, (pa, pb)),
            ('bridge', f'msgq:{topic}', f'msgq:{topic}', [p.pid for p in bridges['bridge']], (pa, pb)),
            ('bridge_rt', f'msgq:{topic}', f'msgq:{topic}', [p.pid for p in bridges['bridge_rt']], (pa + 'rt', pb + 'rt'))):
          _, p50, p99, _, _ = measure(net, send_at, recv_at, payload, rate * 2, rate, event, pids, buses)
          n, _, _, mps, cpu = measure(net, send_at, recv_at, payload, count, 0, event, pids, buses)
          results[impl, case] = (p50, mps)
          rows += [row(impl, case, 'p50_us', p50, 'us'), row(impl, case, 'p99_us', p99, 'us'),
                   row(impl, case, 'msgs_per_s', mps, 'msgs/s'), row(impl, case, 'cpu_ns_per_msg', cpu / max(n, 1), 'ns'),
                   row(impl, case, 'delivered_pct', 100.0 * n / count, '%')]
        _, hop50, hop99, _, _ = measure(net, f'msgq:{topic}', f'msgq:{topic}', payload, rate * 2, rate, event, None,
                                        (pc, pc))
        rows += [row('msgq_hop', case, 'p50_us', hop50, 'us'), row('msgq_hop', case, 'p99_us', hop99, 'us')]
        for impl, tag in (('bridge', ''), ('bridge_rt', 'rt_')):
          rows += [row('ratio', case, f'{tag}p50_added_us', results[impl, case][0] - results['zmq_tcp', case][0], 'us'),
                   row('ratio', case, f'{tag}msgs_per_s_ratio', results[impl, case][1] / results['zmq_tcp', case][1], 'x')]
        rows.append(row('ratio', case, 'p50_floor_us', results['zmq_tcp', case][0] + 2 * hop50, 'us'))
        rows += traced_stages(net, pt, tmp, case, topic, payload, rate, event)
      for a, b in bridges.values():
        net.stop(a)
        net.stop(b)
      rows += pipeline_rows
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
    for p in (pa, pb, pc, pa + 'rt', pb + 'rt', pt + 'a', pt + 'b'):
      shutil.rmtree(f'/dev/shm/conduit_{p}', ignore_errors=True)
  return rows
