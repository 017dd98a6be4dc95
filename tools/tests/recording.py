"""The recording half of the pipeline for tests, on a CONDUIT_PREFIX of its
own: loggerd and encoderd (road camera: H.265 and the H.264 qcamera) started
and waited for, then camerad on demand (synthetic, I420 as the manager runs it:
encoderd lends its buffers to libx265 in place).

  with Recording(root, 'fox', seg_frames=60) as rec:
    cam = rec.camerad(140, 640, 480)
    assert cam.wait(60) == 0
    rec.wait_encoded(139)  # encoderd took every frame camerad sent
    rec.stop_recording()   # encoderd flushes, then loggerd ends the route
    ...                    # rec.route is complete

Leaving the block stops whatever it started that still runs (also after a
failure) and removes the prefix's shared memory."""
import os
import shutil
import subprocess

from cereal.streams import VIDEOS
from common.prefix import prefix_dir
from common.testing.prefix import scoped_prefix
from common.testing.process import stop
from common.testing.wait import wait_for, wait_for_messages

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin')
# The outputs of encoderd --cameras road: name -> index service.
OUTPUTS = {name: v.idx_service for name, v in VIDEOS.items() if v.camera == 'road'}


class Recording:
  def __init__(self, root, route, seg_frames):
    self.prefix = f'{route}_{os.getpid()}'
    self.route = os.path.join(str(root), route)
    self.env = dict(os.environ, CONDUIT_PREFIX=self.prefix, CONDUIT_LOG_ROOT=str(root), LOGGERD_ROUTE=route,
                    PYTHONPATH=ROOT)
    self.seg_frames = seg_frames
    self.procs = []

  def __enter__(self):
    import cereal.messaging as messaging
    with scoped_prefix(self.prefix, remove=False):  # this test's SubMaster joins the pipeline's bus
      self.sm = messaging.SubMaster(['encoderdState', *OUTPUTS.values()], conflate=True)
    try:
      self.loggerd = self.start(os.path.join(BIN, 'loggerd'))
      # loggerd subscribes before it creates the first segment's log.
      assert wait_for(lambda: os.path.exists(f'{self.route}--0/rlog.zst'), 20), 'loggerd did not start'
      self.encoderd = self.start(os.path.join(BIN, 'encoderd'), '--cameras', 'road', '--segment-frames',
                                 str(self.seg_frames))
      # encoderd publishes its state once its encoders are open and waiting for camerad.
      assert wait_for_messages(self.sm, lambda sm: sm.seen['encoderdState'], 30), 'encoderd did not start'
    except BaseException:
      self.__exit__()
      raise
    return self

  def __exit__(self, *exc):
    for p in reversed(self.procs):  # encoderd flushes first, then loggerd writes the end
      stop(p, timeout=20)
    shutil.rmtree(prefix_dir(self.prefix), ignore_errors=True)

  def start(self, *argv, **kw):
    """Starts argv on the pipeline's prefix (output to /dev/null unless kw says otherwise)."""
    kw.setdefault('stdout', subprocess.DEVNULL)
    kw.setdefault('stderr', subprocess.DEVNULL)
    p = subprocess.Popen(argv, env=self.env, **kw)
    self.procs.append(p)
    return p

  def camerad(self, frames, width, height, **kw):
    """Starts camerad serving `frames` frames (ids 0 .. frames-1) of the road camera."""
    return self.start(os.path.join(BIN, 'camerad'), '--cameras', 'road', '--size', f'{width}x{height}',
                      '--pixel-format', 'yuv420p', '--frames', str(frames), **kw)

  def wait_flowing(self):
    """Waits until encoded frames come out of every output."""
    assert wait_for_messages(self.sm, lambda sm: all(sm.seen[s] for s in OUTPUTS.values()), 30), 'no frames encoded'

  def wait_encoded(self, last_frame_id):
    """Waits until every output has taken camerad's frames up to `last_frame_id`."""
    def done(sm):
      return all(taken_through(sm, name) == last_frame_id for name in OUTPUTS)
    assert wait_for_messages(self.sm, done, 30), (
      f'encoderd did not take frame {last_frame_id}: {[taken_through(self.sm, name) for name in OUTPUTS]}')

  def stop_recording(self):
    """Stops encoderd (it flushes) and then loggerd: the route is complete."""
    for p in (self.encoderd, self.loggerd):
      stop(p, timeout=20)


def taken_through(sm, name):
  """The newest camerad frame id encoderd's output `name` has taken: the frame
  of its newest packet, plus the frames still inside its codec and the frames
  dropped after that packet (encoderdState, sent once a second)."""
  idx = sm[OUTPUTS[name]]
  state = next((s for s in sm['encoderdState'].streams if s.name == name), None)
  if not sm.seen[OUTPUTS[name]] or state is None:
    return None
  return idx.frameId + state.queueDepth + state.dropped - idx.droppedFrames


def frame_accounting(idxs):
  """How encoderd accounts for the camerad frames between the packets of one
  output in one encoderd run (EncodeIndex messages, any order): each packet's
  droppedFrames is the output's drop count when it took that frame, so the ids
  between two packets are all counted drops, or some frames went missing
  uncounted. Returns (counted: the dropped frame ids, uncounted: [(after_id,
  next_id, frames missing beyond the count)])."""
  counted, uncounted = set(), []
  ordered = sorted(idxs, key=lambda i: i.frameId)
  for a, b in zip(ordered, ordered[1:]):
    missing = b.frameId - a.frameId - 1 - (b.droppedFrames - a.droppedFrames)
    if missing:
      uncounted.append((a.frameId, b.frameId, missing))
    else:
      counted.update(range(a.frameId + 1, b.frameId))
  return counted, uncounted
