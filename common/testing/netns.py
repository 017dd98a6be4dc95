"""Two hosts on one machine for tests and benchmarks: two network namespaces
joined by a veth pair, 192.0.2.1 (side 0) and 192.0.2.2 (side 1), addresses
from TEST-NET-1 (192.0.2.0/24, never routed). Shared memory is not
namespaced, so each side's pipeline needs its own CONDUIT_PREFIX.

  with NetnsPair() as net:          # raises NetnsUnavailable where it cannot
    p = net.popen(1, ['build/bin/bridge', '--from', net.addrs[0]])
    net.set_link(False)             # cut the wire, set_link(True) mends it
    net.set_rps(1, {1})             # side 1 receives on CPU 1 (see set_rps)
    net.set_sysctl(0, 'net/ipv4/tcp_congestion_control', 'reno')

Leaving the block kills what popen() started and deletes both namespaces
(the veth pair and every setting made here go with them), also after an
exception."""
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid


class NetnsUnavailable(RuntimeError):
  pass


class NetnsPair:
  addrs = ("192.0.2.1", "192.0.2.2")

  def __init__(self):
    tag = uuid.uuid4().hex[:8]
    self.names = (f"cdt{tag}a", f"cdt{tag}b")
    self.ifaces = (f"vc{tag}a", f"vc{tag}b")
    self.procs = []

  def __enter__(self):
    if os.geteuid() != 0:
      raise NetnsUnavailable("network namespaces need root (CAP_NET_ADMIN)")
    if shutil.which("ip") is None:
      raise NetnsUnavailable("network namespaces need iproute2's `ip` (tools/install_deps.sh installs it)")
    made = []
    try:
      for ns in self.names:
        self._ip("netns", "add", ns)
        made.append(ns)
      self._ip("link", "add", self.ifaces[0], "type", "veth", "peer", "name", self.ifaces[1])
      for side in (0, 1):
        ns, iface = self.names[side], self.ifaces[side]
        self._ip("link", "set", iface, "netns", ns)
        self._ip("-n", ns, "addr", "add", f"{self.addrs[side]}/24", "dev", iface)
        self._ip("-n", ns, "link", "set", iface, "up")
        self._ip("-n", ns, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as e:
      for ns in made:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
      subprocess.run(["ip", "link", "del", self.ifaces[0]], capture_output=True)
      raise NetnsUnavailable(f"cannot make network namespaces: `{' '.join(e.cmd)}`: {e.stderr.strip()}") from None
    return self

  def __exit__(self, *exc):
    self.stop_all()
    for ns in self.names:
      self._delete(ns)

  @staticmethod
  def _delete(ns):
    # Another `ip netns` running at the same moment (other tests) can make a delete fail: retry, then say so.
    for _ in range(20):
      r = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
      if not os.path.exists(f"/run/netns/{ns}"):
        return
      time.sleep(0.1)
    print(f"netns: cannot delete namespace {ns}: {r.stderr.strip()}", file=sys.stderr)

  def popen(self, side, argv, cpus=None, **kwargs):
    """Starts argv inside side's namespace (its own process group, killed on exit),
    on the CPU set `cpus` if given."""
    if cpus is not None:
      kwargs["preexec_fn"] = lambda: os.sched_setaffinity(0, cpus)
    p = subprocess.Popen(["ip", "netns", "exec", self.names[side], *argv], start_new_session=True, **kwargs)
    self.procs.append(p)
    return p

  def stop(self, p, sig=signal.SIGTERM, timeout=5):
    """Sends sig to p's process group and reaps it (SIGKILL if it lingers)."""
    if p.poll() is None:
      try:
        os.killpg(p.pid, sig)
        p.wait(timeout)
      except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
      except ProcessLookupError:
        pass
    return p.wait()

  def stop_all(self):
    for p in self.procs:
      self.stop(p)

  def set_link(self, up):
    """Brings side 1's end of the wire up or down."""
    self._ip("-n", self.names[1], "link", "set", self.ifaces[1], "up" if up else "down")

  def add_addr(self, side, addr):
    """Gives side's end of the wire another address (192.0.2.0/24): a second host there."""
    self._ip("-n", self.names[side], "addr", "add", f"{addr}/24", "dev", self.ifaces[side])

  def set_mtu(self, side, mtu):
    """Sets the MTU of side's end of the wire (both ends should agree)."""
    self._ip("-n", self.names[side], "link", "set", self.ifaces[side], "mtu", str(mtu))

  def set_rps(self, side, cpus):
    """Has the packets side's end of the wire receives processed on the CPU set
    `cpus` (RPS). A veth otherwise processes a packet on the sender's CPU, in the
    sender's system call, as if one host did the other's receiving."""
    mask = sum(1 << c for c in cpus)
    self._in(side, f"echo {mask:x} > /sys/class/net/{self.ifaces[side]}/queues/rx-0/rps_cpus")

  def set_sysctl(self, side, key, value):
    """Sets a per-namespace sysctl of side, key as under /proc/sys (e.g. net/ipv4/tcp_congestion_control)."""
    self._in(side, f"echo {value} > /proc/sys/{key}")

  def sysctl(self, side, key):
    """Reads a per-namespace sysctl of side."""
    return subprocess.run(["ip", "netns", "exec", self.names[side], "cat", f"/proc/sys/{key}"],
                          check=True, capture_output=True, text=True).stdout.strip()

  def _in(self, side, script):
    self._ip("netns", "exec", self.names[side], "sh", "-c", script)

  @staticmethod
  def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)
