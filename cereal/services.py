"""The one table of services. A service is a msgq topic carrying Events whose
union member has the service's name (cereal/log.capnp).

  should_log  loggerd writes it to rlog
  frequency   expected publish rate in Hz (0: irregular, no rate check)
  decimation  qlog keeps message i of a segment when i % decimation == 0
              (None: never in qlog)
  ring_size   bytes of the topic's shared-memory ring; a message may be at most
              about half of it, so size it for the largest message plus slack
  loan        0: messages are copied into the ring and out of it (small ones).
              Otherwise bytes of a loan: messages are built in place in the
              ring and read there (msgq loans and views, large ones); size it
              for the largest message, as a loan this large is zeroed for
              Cap'n Proto and reserved in the ring per message

A service's row index is also its place among a bridge's tcp ports (bridge
port = base + index, cereal/remote.h; SERVICE_LIST[name].port): add new
services at the end.

C++ gets the same table from cereal/gen/services.h, generated from this file at
build time by cereal/gen_services_h.py.
"""
from typing import NamedTuple, Optional

KiB = 1024
MiB = 1024 * KiB


class Service(NamedTuple):
  should_log: bool
  frequency: float
  decimation: Optional[int]
  ring_size: int
  loan: int = 0
  name: str = ""

  @property
  def port(self):
    """The tcp port of this service on a bridge (base from CONDUIT_BRIDGE_PORT or CONDUIT_PREFIX)."""
    from cereal._cereal import bridge_port
    return bridge_port(self.name)


_SERVICES = {
  # name: (should_log, frequency, decimation, ring_size[, loan])
  "initData": (True, 0., 1, 1 * MiB),
  "sentinel": (True, 0., 1, 64 * KiB),

  "roadCameraState": (True, 20., 20, 256 * KiB),
  "wideRoadCameraState": (True, 20., 20, 256 * KiB),
  "driverCameraState": (True, 20., 20, 256 * KiB),
  "cameradState": (True, 1., 1, 64 * KiB),

  "modelV2": (True, 20., 40, 4 * MiB),

  # Encoder indices are small and always kept in qlog: they map frames to video.
  "roadEncodeIdx": (True, 20., 1, 256 * KiB),
  "wideRoadEncodeIdx": (True, 20., 1, 256 * KiB),
  "driverEncodeIdx": (True, 20., 1, 256 * KiB),
  "qRoadEncodeIdx": (True, 20., 1, 256 * KiB),
  # Packets go to the video files, not to rlog. Keyframes of full-resolution
  # HEVC reach ~1 MB, so the rings hold many of them.
  "roadEncodeData": (False, 20., None, 16 * MiB),
  "wideRoadEncodeData": (False, 20., None, 16 * MiB),
  "driverEncodeData": (False, 20., None, 16 * MiB),
  "qRoadEncodeData": (False, 20., None, 4 * MiB),
  "encoderdState": (True, 1., 1, 64 * KiB),

  "managerState": (True, 2., 1, 256 * KiB),
  "logMessage": (True, 0., 1, 2 * MiB),
  "errorLogMessage": (True, 0., 1, 1 * MiB),
  "heartbeat": (False, 1., None, 64 * KiB),
  "deviceState": (True, 1., 1, 64 * KiB),

  "sensorEvents": (True, 100., 100, 1 * MiB),
  "can": (True, 100., 100, 2 * MiB),
  "liveCalibration": (True, 4., 1, 64 * KiB),

  "loggerdState": (True, 1., 1, 64 * KiB),

  # Crash-safety and load tests.
  "testMessage": (True, 0., 10, 4 * MiB),
  "testLargeMessage": (False, 0., None, 8 * MiB, 1 * MiB + 4 * KiB),

  "bridgeState": (True, 1., 1, 256 * KiB),
  "modeldState": (True, 1., 1, 64 * KiB),
}

# Your services: the Event members of cereal/custom.capnp. Give the one you
# use its rate and sizes here; this is the only place to touch.
_CUSTOM_SERVICES = {
  "customReserved0": (True, 100., 100, 256 * KiB),  # examples/sensor_filter
  **{f"customReserved{i}": (False, 0., None, 64 * KiB) for i in range(1, 10)},
}
_SERVICES.update(_CUSTOM_SERVICES)

SERVICE_LIST = {name: Service(*row[:4], loan=row[4] if len(row) > 4 else 0, name=name)
                for name, row in _SERVICES.items()}
