"""/proc facts about a process, for the manager's tests, benchmarks and tools."""
import os


def _stat_fields(pid):
  """Fields 3.. of /proc/<pid>/stat (after the command name), or None if gone."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      return f.read().rsplit(')', 1)[1].split()
  except (FileNotFoundError, ProcessLookupError, IndexError):
    return None


def children(pid):
  """Pids whose parent is pid, zombies included (a scan of /proc, not pgrep:
  procps tools hang with the ASan runtime preloaded, as in test.sh's ASan gate)."""
  kids = []
  for entry in os.listdir('/proc'):
    fields = _stat_fields(entry) if entry.isdigit() else None
    if fields is not None and int(fields[1]) == pid:
      kids.append(int(entry))
  return kids


def alive(pid) -> bool:
  """True while pid runs; a zombie counts as dead."""
  fields = _stat_fields(pid)
  return fields is not None and fields[0] not in ('Z', 'X')


def cpu_ticks(pid):
  """utime + stime of pid in clock ticks (os.sysconf('SC_CLK_TCK') per second), or None."""
  fields = _stat_fields(pid)
  return None if fields is None else int(fields[11]) + int(fields[12])


def cpu_seconds(pid):
  """CPU seconds pid has used so far, every thread included (exited ones too), at
  nanosecond resolution: its process CPU clock (CPUCLOCK_SCHED, clock id ~pid << 3 | 2)."""
  import time
  return time.clock_gettime(((~pid) << 3) | 2)


def rss_kb(pid):
  """Resident memory of pid in KiB (/proc/<pid>/statm), or None if gone."""
  try:
    with open(f'/proc/{pid}/statm') as f:
      return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024
  except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
    return None
