"""examples/sensor_filter: a small process built from the process template
(common/process.py), publishing a message of your own (cereal/custom.capnp).

It takes sensorEvents (its input: each message wakes it) and can (read when
it wakes), and publishes customReserved0 per sensor reading: the reading's
second value low-pass filtered with the param SensorFilterAlpha, the number of
readings so far and the newest CAN address. The manager runs it when the
param ExampleEnabled is set (manager/process_config.py); process replay checks
it against a recorded route (tools/process_replay).

  python -m examples.sensor_filter
"""
import cereal.messaging as messaging
from common.process import Process


def main():
  proc = Process("sensor_filter")
  alpha = proc.params.get("SensorFilterAlpha")
  sm = messaging.SubMaster(["sensorEvents", "can"], poll="sensorEvents")
  pm = messaging.PubMaster(["customReserved0"])
  filtered, samples, can_address = None, 0, 0
  while proc.running:
    sm.update(100)
    proc.tick()
    if sm.updated["can"] and len(sm["can"]):
      can_address = sm["can"][-1].address
    if not sm.updated["sensorEvents"] or not len(sm["sensorEvents"]):
      continue
    reading = sm["sensorEvents"][0]
    value = reading.values[1] if len(reading.values) > 1 else 0.0
    filtered = value if filtered is None else filtered + alpha * (value - filtered)
    samples += 1
    msg = messaging.new_message("customReserved0", valid=sm.all_valid(["sensorEvents"]))
    out = msg.customReserved0
    out.filtered = filtered
    out.samples = samples
    out.lastCanAddress = can_address
    out.sensorTime = reading.timestamp
    pm.send("customReserved0", msg)


if __name__ == "__main__":
  main()
