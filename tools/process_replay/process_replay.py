"""Process replay: runs one process of the process table on a recorded route,
feeds it in lockstep (msgq fake events: send one input, wait until the process
took it and went back to wait) and compares what it publishes with a
reference log. No sleeps and no clock: the same route gives the same output
on a loaded machine as on an idle one.

  python -m tools.process_replay.process_replay ROUTE                 # compare, exit 1 on a difference
  python -m tools.process_replay.process_replay ROUTE --update-refs   # after an intentional change
  python -m tools.process_replay.process_replay ROUTE --process sensor_filter

ROUTE is a route or segment as every tool takes it (tools/lib/route.py).
References: tools/process_replay/refs/<process>.rlog (raw Events).
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

REFS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "refs")


@dataclass
class Config:
  name: str                       # the process table's name (manager/process_config.py)
  pubs: list                      # services fed from the route
  polled: list                    # those of pubs the process waits on: each is fed, then waited for
  outputs: list                   # services recorded and compared
  frames: Optional[str] = None    # 'road': each roadEncodeIdx feeds its frame from the video over VisionIPC
  params: dict = field(default_factory=dict)
  ignore: list = field(default_factory=lambda: ["logMonoTime"])  # field paths (compare.py)
  tolerance: dict = field(default_factory=dict)                  # field path: absolute tolerance


CONFIGS = {
  # Frames in, modelV2 out, on the CPU backend: bit-exact from run to run.
  "modeld": Config("modeld", pubs=["roadCameraState"], polled=[], outputs=["modelV2"], frames="road",
                   params={"ModelBackend": "cpu"},
                   ignore=["logMonoTime", "modelV2.modelExecutionTime", "modelV2.transformTime",
                           "modelV2.gpuExecutionTime"]),
  "sensor_filter": Config("sensor_filter", pubs=["sensorEvents", "can"], polled=["sensorEvents"],
                          outputs=["customReserved0"], params={"SensorFilterAlpha": 0.1},
                          tolerance={"customReserved0.filtered": 1e-6}),
}

STEP_TIMEOUT_S = 60.0  # for one input (modeld's first frame compiles nothing; pocl is not used)


class ReplayError(RuntimeError):
  pass


def _wait(ready, proc, what, log):
  """Calls ready(ms) until it is true; the process dying or STEP_TIMEOUT_S passing is a ReplayError."""
  deadline = time.monotonic() + STEP_TIMEOUT_S
  while not ready(100):
    if proc.poll() is not None:
      raise ReplayError(f"the process exited ({proc.returncode}) {what}:\n{_tail(log)}")
    if time.monotonic() > deadline:
      raise ReplayError(f"the process did not come back within {STEP_TIMEOUT_S:.0f} s {what}:\n{_tail(log)}")


def _tail(log):
  log.flush()
  with open(log.name, errors="replace") as f:
    return "".join(f.readlines()[-20:])


def _segment_inputs(seg, cfg):
  """(service, bytes, event) of the route segment that cfg feeds, in log order."""
  from cereal.messaging import log_from_bytes
  from loggerd.logreader import LogReader
  wanted = set(cfg.pubs) | ({"roadEncodeIdx"} if cfg.frames else set())
  out = []
  for dat in LogReader(seg.log, raw=True):
    ev = log_from_bytes(dat)
    if ev.which() in wanted:
      out.append((ev.which(), dat, ev))
  return out


def replay(cfg, route_spec):
  """What the process publishes on cfg.outputs, fed the route in lockstep:
  a list of (input step, serialized Event)."""
  import cereal.messaging as messaging
  from manager.params import Params
  from manager.process_config import PROCESSES
  from tools.lib.route import open_route

  spec = next(p for p in PROCESSES if p.name == cfg.name)
  route = open_route(route_spec)
  with tempfile.TemporaryDirectory(prefix="process_replay_") as tmp, \
       open(os.path.join(tmp, "stderr"), "w+") as log:
    os.makedirs(os.path.join(tmp, "params"))
    params = Params(os.path.join(tmp, "params"))
    for k, v in cfg.params.items():
      params.put(k, v)
    env = dict(os.environ, CONDUIT_LOCKSTEP="1", CONDUIT_PARAMS_DIR=params.path)
    env.update(spec.env(params) if callable(spec.env) else spec.env)

    pm = messaging.PubMaster(cfg.pubs) if cfg.pubs else None
    outs = {s: messaging.sub_sock(s) for s in cfg.outputs}  # before the process: nothing is missed
    server = readers = None
    if cfg.frames:
      import visionipc
      from tools.process_replay._frames import FrameReader
      stream = visionipc.VISION_STREAM_ROAD
      readers = [FrameReader(seg.file("fcamera.hevc")) for seg in route.segments]
      server = visionipc.VisionIpcServer("camerad")
      server.create_buffers(stream, 4, readers[0].width, readers[0].height, "yuv420p")
      server.start_listener()

    proc = subprocess.Popen(spec.command(params), env=env, stdout=log, stderr=log, start_new_session=True)
    results, step = [], 0

    def collect():
      for s in cfg.outputs:
        for dat in messaging.drain_sock_raw(outs[s]):
          results.append((step, dat))

    try:
      for s in cfg.polled:
        _wait(lambda ms, s=s: pm.sock[s].wait_lockstep(ms), proc, "before its first input", log)
      if server:
        _wait(lambda ms: server.wait_lockstep(stream, ms), proc, "before its first frame", log)
      for seg_i, seg in enumerate(route.segments):
        for which, dat, ev in _segment_inputs(seg, cfg):
          if which == "roadEncodeIdx" and server:
            idx = ev.roadEncodeIdx
            frame = readers[seg_i].get(idx.segmentIdEncode)
            if not server.send(stream, frame, idx.frameId, idx.timestampSof, idx.timestampEof, ev.valid):
              raise ReplayError(f"VisionIPC dropped frame {idx.frameId}: the process holds every buffer")
            _wait(lambda ms: server.wait_lockstep(stream, ms), proc, f"after frame {idx.frameId}", log)
          elif which in cfg.pubs:
            pm.send(which, dat)
            if which not in cfg.polled:
              continue
            _wait(lambda ms: pm.sock[which].wait_lockstep(ms), proc, f"after input {step} ({which})", log)
          else:
            continue
          collect()
          step += 1
      os.killpg(proc.pid, signal.SIGTERM)
      try:
        proc.wait(10)
      except subprocess.TimeoutExpired:
        raise ReplayError(f"the process did not stop within 10 s of SIGTERM:\n{_tail(log)}") from None
      collect()
    finally:
      if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return results


def ref_path(cfg, ref_dir=REFS):
  return os.path.join(ref_dir, f"{cfg.name}.rlog")


def write_ref(cfg, results, ref_dir=REFS):
  os.makedirs(ref_dir, exist_ok=True)
  with open(ref_path(cfg, ref_dir), "wb") as f:
    for _, dat in results:
      f.write(dat)


def read_ref(cfg, ref_dir=REFS):
  from loggerd.logreader import LogReader
  path = ref_path(cfg, ref_dir)
  if not os.path.exists(path):
    raise ReplayError(f"no reference {path}: make one with --update-refs")
  return [(None, ev.to_dict()) for ev in LogReader(path, strict=True)]


def check(cfg, results, ref_dir=REFS):
  """The diff lines between results and cfg's reference (empty: they match)."""
  from cereal.messaging import log_from_bytes
  from tools.process_replay.compare import compare
  new = [(step, log_from_bytes(dat).to_dict()) for step, dat in results]
  return compare(read_ref(cfg, ref_dir), new, cfg.ignore, cfg.tolerance)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("route", help="route or segment (tools/lib/route.py)")
  p.add_argument("--process", action="append", choices=sorted(CONFIGS), help="default: every configured process")
  p.add_argument("--update-refs", action="store_true", help="write the references from this run")
  p.add_argument("--ref-dir", default=REFS)
  args = p.parse_args(argv)
  failed = False
  for name in args.process or sorted(CONFIGS):
    cfg = CONFIGS[name]
    try:
      results = replay(cfg, args.route)
      if args.update_refs:
        write_ref(cfg, results, args.ref_dir)
        print(f"{name}: wrote {len(results)} messages to {ref_path(cfg, args.ref_dir)}")
        continue
      diff = check(cfg, results, args.ref_dir)
    except Exception as e:  # noqa: BLE001
      print(f"{name}: {e}", file=sys.stderr)
      failed = True
      continue
    if diff:
      failed = True
      print(f"{name}: {len(diff)} differences from {ref_path(cfg, args.ref_dir)}:")
      for line in diff[:50]:
        print(f"  {line}")
    else:
      print(f"{name}: {len(results)} messages match the reference")
  return 1 if failed else 0


if __name__ == "__main__":
  os.environ.setdefault("CONDUIT_PREFIX", f"process_replay_{os.getpid()}")
  sys.exit(main())
