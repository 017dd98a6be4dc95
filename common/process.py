"""The template of a conduit process in Python: a clean stop on SIGINT and
SIGTERM (the loop ends, no traceback), watchdog kicks, a rate keeper with lag
accounting (common/ratekeeper.py) and params (manager/params.py).
examples/sensor_filter.py is a process built from it.

  proc = Process("myproc", rate_hz=20)   # rate_hz=None: paced by its input
  sm = messaging.SubMaster(["sensorEvents"])
  while proc.running:
    sm.update(100)
    ...
    proc.tick()   # kicks the watchdog; with a rate, keeps it

Lockstep (process replay): the stop signals also end the process's lockstep
waits (cereal.messaging.stop_lockstep_on_signal), and the rate keeper does not
sleep.
"""
import signal

from common import watchdog
from common.ratekeeper import Ratekeeper


class Process:
  def __init__(self, name, rate_hz=None, signals=(signal.SIGINT, signal.SIGTERM)):
    import cereal.messaging as messaging
    self.name = name
    self.running = True
    self.stop_signal = None  # the signal that stopped it
    for sig in signals:
      signal.signal(sig, self._stop)
      messaging.stop_lockstep_on_signal(sig)
    self.rk = Ratekeeper(rate_hz) if rate_hz else None
    self._params = None

  def _stop(self, signum, frame):
    self.running = False
    self.stop_signal = signum

  @property
  def params(self):
    if self._params is None:
      from manager.params import Params
      self._params = Params()
    return self._params

  def tick(self):
    """The end of one loop iteration: kicks the watchdog, then keeps the rate
    (if any). True when the iteration came late."""
    watchdog.kick()
    return self.rk.keep_time() if self.rk else False
