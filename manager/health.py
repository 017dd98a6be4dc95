"""What the manager measures for managerState and deviceState: CPU % and RSS
per process, and the machine's CPU per core, memory, free disk under the log
root and temperatures (thermal zones that can be read; none in most VMs).

CPU % is over the time since the previous sample: 100 is one core busy."""
import glob
import os
import time

from common import proc


class CpuMeter:
  """CPU % of processes between two samples, by pid."""

  def __init__(self):
    self.last = {}  # pid -> (cpu seconds, monotonic seconds)

  def percent(self, pid):
    try:
      cpu = proc.cpu_seconds(pid)
    except OSError:  # gone
      self.last.pop(pid, None)
      return 0.0
    now = time.monotonic()
    prev = self.last.get(pid)
    self.last[pid] = (cpu, now)
    if prev is None or now <= prev[1]:
      return 0.0
    return 100.0 * (cpu - prev[0]) / (now - prev[1])

  def forget_others(self, pids):
    for pid in set(self.last) - set(pids):
      del self.last[pid]


def _cpu_times():
  """[(busy, total)] jiffies per core from /proc/stat."""
  out = []
  with open('/proc/stat') as f:
    for line in f:
      if line.startswith('cpu') and line[3].isdigit():
        v = [int(x) for x in line.split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        out.append((sum(v) - idle, sum(v)))
  return out


def _memory_percent():
  info = {}
  with open('/proc/meminfo') as f:
    for line in f:
      key, value = line.split(':', 1)
      info[key] = int(value.split()[0])
  total = info.get('MemTotal', 0)
  return 100.0 * (total - info.get('MemAvailable', total)) / total if total else 0.0


def _free_percent(path):
  while path and not os.path.exists(path):
    path = os.path.dirname(path)  # the log root may not exist yet: its disk does
  st = os.statvfs(path or '/')
  return 100.0 * st.f_bavail / st.f_blocks if st.f_blocks else 0.0


def _temperatures():
  temps = []
  for zone in sorted(glob.glob('/sys/class/thermal/thermal_zone*/temp')):
    try:
      with open(zone) as f:
        temps.append(int(f.read()) / 1000.0)
    except (OSError, ValueError):
      pass  # unreadable here (permissions, a zone that errors): not reported
  return temps


class DeviceMeter:
  """Fills deviceState; CPU % per core since the previous fill."""

  def __init__(self, log_root):
    self.log_root = log_root
    self.last = _cpu_times()

  def fill(self, ds):
    now = _cpu_times()
    cpu = [100.0 * (b - pb) / (t - pt) if t > pt else 0.0 for (b, t), (pb, pt) in zip(now, self.last)]
    self.last = now
    ds.cpuUsagePercent = cpu
    ds.memoryUsagePercent = _memory_percent()
    ds.freeSpacePercent = _free_percent(self.log_root)
    ds.cpuTempC = _temperatures()
    with open('/proc/uptime') as f:
      ds.uptimeSeconds = float(f.read().split()[0])
