"""./launch's live status line and its end-of-run health summary, both read from
the processes' state services: cameradState, encoderdState, loggerdState,
modeldState (and modelV2's drop percentage).

Drops are counted where they happen: a camera frame with every buffer held
(camerad), a frame the encoder could not keep up with (encoderd, per output), a
message or packet loggerd lost or could not write (loggerd)."""
import sys
import time

STATE_SERVICES = ['cameradState', 'encoderdState', 'loggerdState', 'modeldState', 'modelV2']


def _streams(sm, service, field):
  return list(getattr(sm[service], field)) if sm.recv_frame[service] else []


def status_text(sm, up, enabled):
  """One line: processes up of those enabled, fps per camera, model latency and
  drops, drops of camerad, encoderd and loggerd, the segment."""
  cams = _streams(sm, 'cameradState', 'cameras')
  encs = _streams(sm, 'encoderdState', 'streams')
  fps = ' '.join(f'{c.name} {c.fps:4.1f}fps' for c in cams) or 'no camera yet'
  parts = [f'procs {up}/{enabled}', fps]
  if sm.recv_frame['modeldState']:
    m = sm['modeldState'].stream
    parts.append(f'model {m.latencyMs:5.1f}ms drop {sm["modelV2"].frameDropPerc:4.1f}%')
  parts.append(f'camera drops {sum(c.dropped for c in cams)}')
  parts.append('enc drops ' + (' '.join(f'{e.name} {e.dropped}' for e in encs) or '-'))
  if sm.recv_frame['loggerdState']:
    ls = sm['loggerdState']
    parts.append(f'log drops {ls.droppedMessages}' + (f' ({ls.droppedBytes} B)' if ls.droppedBytes else ''))
    parts.append(f'segment {ls.segmentNum}')
  return ' | '.join(parts)


def summary_text(sm):
  """The health lines printed after a run: what each process dropped, in total."""
  lines = []
  for c in _streams(sm, 'cameradState', 'cameras'):
    lines.append(f'camerad {c.name}: {c.frames} frames sent, {c.dropped} dropped (every buffer held)')
  if sm.recv_frame['cameradState'] and sm['cameradState'].lateTicks:
    lines.append(f'camerad: {sm["cameradState"].lateTicks} frame deadlines missed')
  if sm.recv_frame['modeldState']:
    m = sm['modeldState'].stream
    lines.append(f'modeld: {m.frames} frames processed, {m.dropped} skipped (conflated)')
  for e in _streams(sm, 'encoderdState', 'streams'):
    lines.append(f'encoderd {e.name}: {e.frames} frames encoded, {e.dropped} dropped')
  if sm.recv_frame['loggerdState']:
    ls = sm['loggerdState']
    lines.append(f'loggerd: {ls.bytesWritten} bytes written, {ls.droppedMessages} messages and '
                 f'{ls.droppedBytes} bytes dropped, {ls.writeErrors} write errors')
  return '\n'.join(lines)


class StatusLine:
  """The manager's on_tick: reads the bus once per tick, redraws one terminal
  line a second; close() takes the final states and lets go of the bus."""

  def __init__(self):
    import cereal.messaging as messaging
    self.sm = messaging.SubMaster(STATE_SERVICES)
    self.route = None
    self.last_draw = 0.0
    self.summary = ''
    self.tty = sys.stdout.isatty()

  def __call__(self, mgr):
    self.sm.update(0)
    if self.sm.recv_frame['loggerdState'] and self.sm['loggerdState'].route:
      self.route = self.sm['loggerdState'].route
    now = time.monotonic()
    if now - self.last_draw < 1.0:
      return
    self.last_draw = now
    enabled = [p for p in mgr.procs if p.should_run]
    line = status_text(self.sm, sum(p.running() for p in enabled), len(enabled))
    print(('\r' + line + '\x1b[K') if self.tty else line, end='' if self.tty else '\n', flush=True)

  def close(self):
    """After the processes stopped: their last states (published on the way
    out) make the summary; the subscriptions go, so the bus can be removed."""
    if self.sm is None:
      return
    for _ in range(len(STATE_SERVICES)):
      self.sm.update(0)
    if self.sm.recv_frame['loggerdState'] and self.sm['loggerdState'].route:
      self.route = self.sm['loggerdState'].route
    self.summary = summary_text(self.sm)
    self.sm = None
