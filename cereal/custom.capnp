@0xa414155ff89d45b9;
# Your own messages, without touching log.capnp.
#
# Event (log.capnp) reserves one union member per struct below:
# customReserved0 holds a CustomReserved0, and so on. To add a message:
#   1. give one of these structs your fields (append; never renumber),
#   2. give its service a rate and sizes in the custom section at the end of
#      cereal/services.py (the service is the member's name, customReservedN),
#   3. build (scons): C++ (cereal/gen/custom.capnp.h, through log.capnp.h) and
#      Python (cereal.log, loaded at run time) both see it.
# Then publish and subscribe it like any service:
#   msg = messaging.new_message('customReserved0', valid=True)
#   msg.customReserved0.filtered = 1.5
# README "Your own process and messages" walks through examples/sensor_filter,
# which uses customReserved0.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cereal");

# examples/sensor_filter: a low-pass filter over sensorEvents.
struct CustomReserved0 {
  filtered @0 :Float32;       # the first sensor value, low-pass filtered
  samples @1 :UInt32;         # sensorEvents messages taken so far
  lastCanAddress @2 :UInt32;  # address of the newest CAN frame seen (0: none yet)
  sensorTime @3 :UInt64;      # timestamp of the sensor reading filtered last
}

struct CustomReserved1 {
}

struct CustomReserved2 {
}

struct CustomReserved3 {
}

struct CustomReserved4 {
}

struct CustomReserved5 {
}

struct CustomReserved6 {
}

struct CustomReserved7 {
}

struct CustomReserved8 {
}

struct CustomReserved9 {
}
