"""What the chaos suite checks after the faults: every segment readable (up to
its flush window: only whole zstd frames are ever on disk), every video
decodable, how each segment ended, lock files, shared memory left behind."""
import json
import os
import subprocess

from tools.lib.route import lock_is_live

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
VIDEOS = ('fcamera.hevc', 'ecamera.hevc', 'dcamera.hevc', 'qcamera.ts')


def segment_dirs(log_root):
  from loggerd.logreader import resolve_logs  # noqa: F401  (loads loggerd's naming rules)
  out = []
  for name in sorted(os.listdir(log_root)):
    d = os.path.join(log_root, name)
    head, _, num = name.rpartition('--')
    if os.path.isdir(d) and head and num.isdigit():
      out.append(d)
  return sorted(out, key=lambda d: (d.rpartition('--')[0], int(d.rpartition('--')[2])))


def read_log(path):
  """(events, warnings) of one log file."""
  import warnings
  from loggerd.logreader import LogReader
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    lr = LogReader(path)
    events = list(lr)
  return events, list(lr.warnings)


def segment_report(d):
  """{'readable', 'why', 'end', 'videos': {file: decode info}} of one segment directory.
  Readable: both logs yield their events and no damage. A frame lost to a full
  disk is lost whole (and counted by loggerd), and a log with nothing on disk
  (its writer killed before the first flush, or all of it lost to a full disk)
  is empty, not damaged: both count as readable."""
  r = {'dir': d, 'readable': True, 'why': [], 'end': None, 'videos': {}}
  for log in ('rlog.zst', 'qlog.zst'):
    path = os.path.join(d, log)
    if not os.path.exists(path):
      r['readable'] = False
      r['why'].append(f'{log} missing')
      continue
    if os.path.getsize(path) == 0:  # nothing flushed yet (killed at once) or all lost to a full disk: no damage
      r['empty'] = r.get('empty', 0) + 1
      continue
    events, warns = read_log(path)
    if warns or not events:
      r['readable'] = False
      r['why'].append(f'{log}: {len(events)} events, warnings {warns}')
    if log == 'rlog.zst':
      last = events[-1] if events else None
      r['end'] = str(last.sentinel.type) if last is not None and last.which() == 'sentinel' else None
  videos = [os.path.join(d, v) for v in VIDEOS if os.path.exists(os.path.join(d, v))]
  if videos:
    exe = os.path.join(ROOT, 'build', 'bin', 'video_info')
    out = subprocess.run([exe, '--decode', *videos], capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
      v = json.loads(line)
      path = v.pop('file')
      v['bytes'] = os.path.getsize(path)
      r['videos'][os.path.basename(path)] = v
  return r


def video_ok(v):
  """Decodes without an error; an empty file (everything lost to a full disk) is lost, not damaged."""
  return v.get('bytes') == 0 or ('error' not in v and v.get('decode_errors', 1) == 0 and v.get('frames', 0) > 0)


def stale_locks(log_root):
  return [os.path.join(dp, f) for dp, _, fs in os.walk(log_root) for f in fs
          if f.endswith('.lock') and not lock_is_live(os.path.join(dp, f))]


def shm_left(prefix):
  d = f'/dev/shm/conduit_{prefix}'
  return sorted(os.path.relpath(os.path.join(dp, f), d) for dp, _, fs in os.walk(d) for f in fs) if os.path.isdir(d) else []
