@0xffd08428e356ab30;
# The conduit log schema. Every message on the bus and every entry in a log file
# is one Event. A service (cereal/services.py) is a union member of Event with
# the same name; the two lists must match (cereal/tests check it).
#
# Conventions:
#   - times named *MonoTime, timestamp*, monoTime: CLOCK_MONOTONIC nanoseconds
#     (common/clock.h), the one clock of the system;
#   - *Nanos with "wall" or "unix" in the name: CLOCK_REALTIME nanoseconds;
#   - durations named *Time (Float32) are seconds unless the name says otherwise.
# Evolve the schema by appending fields with the next ordinal; never renumber.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cereal");
using Custom = import "custom.capnp";  # your messages (customReserved0..9 below)

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

# First event of every log.
struct InitData {
  version @0 :Text;
  gitCommit @1 :Text;
  gitBranch @2 :Text;
  kernelVersion @3 :Text;
  osVersion @4 :Text;
  hostname @5 :Text;
  wallTimeNanos @6 :UInt64;
  deviceType @7 :Text;
  params @8 :List(KeyValue);
  commandLine @9 :List(Text);
  routeName @10 :Text;
}

# Marks boundaries of routes and segments inside logs.
struct Sentinel {
  enum SentinelType {
    startOfRoute @0;
    endOfRoute @1;
    startOfSegment @2;
    endOfSegment @3;
  }
  type @0 :SentinelType;
  signal @1 :Int32;       # signal that ended the route (0 when it ended normally)
  segmentNum @2 :Int32;
}

# One camera frame, published by camerad per camera.
struct FrameData {
  frameId @0 :UInt32;
  timestampSof @1 :UInt64;     # start of frame (exposure start)
  timestampEof @2 :UInt64;     # end of frame (readout done)
  processingTime @3 :Float32;  # seconds from EOF to publish
  gain @4 :Float32;
  integLines @5 :Int32;        # exposure, in sensor lines
  measuredGreyFraction @6 :Float32;
  sensor @7 :Text;
  width @8 :UInt32;
  height @9 :UInt32;
  droppedFrames @10 :UInt32;   # producer drops so far: every buffer was held
  exposureTimeNs @11 :UInt64;
  bufferId @12 :UInt32;        # VisionIPC buffer index holding this frame
  source @13 :Text;            # "synthetic", "file", "v4l2"
}

struct XYZTData {
  x @0 :List(Float32);
  y @1 :List(Float32);
  z @2 :List(Float32);
  t @3 :List(Float32);
}

# Output of modeld for one frame.
struct ModelDataV2 {
  frameId @0 :UInt32;
  frameAge @1 :UInt32;          # frames between the newest frame and this one
  frameDropPerc @2 :Float32;
  timestampEof @3 :UInt64;      # EOF of the input frame
  modelExecutionTime @4 :Float32;
  gpuExecutionTime @5 :Float32;
  transformTime @6 :Float32;
  backend @7 :Text;             # "opencl", "cuda", "cpu"
  rawPredictions @8 :Data;      # the model's output tensor, float32 little-endian
  rowEdges @9 :List(Float32);
  sceneChange @10 :Float32;
  frameIdExtra @11 :UInt32;     # wide camera frame used with this one
  position @12 :XYZTData;
  laneLines @13 :List(XYZTData);
  laneLineProbs @14 :List(Float32);
  confidence @15 :Float32;
  inputShape @16 :List(UInt32);
  outputShape @17 :List(UInt32);
}

# Where one encoded frame sits in the video files.
struct EncodeIndex {
  enum Type {
    fullHEVC @0;
    qcameraH264 @1;
    fullH264 @2;
    rawNV12 @3;
  }
  # flags bits
  const flagKeyframe :UInt32 = 1;
  const flagCodecConfig :UInt32 = 2;

  frameId @0 :UInt32;
  type @1 :Type;
  encodeId @2 :UInt32;          # counts encoded frames of this stream, from 0
  segmentNum @3 :Int32;
  segmentId @4 :UInt32;         # frame index inside the segment
  segmentIdEncode @5 :UInt32;   # packet index inside the segment's video file
  timestampSof @6 :UInt64;
  timestampEof @7 :UInt64;
  flags @8 :UInt32;
  len @9 :UInt32;               # bytes of the packet
  width @10 :UInt32;
  height @11 :UInt32;
  droppedFrames @12 :UInt32;
  pts @13 :Int64;
  encodeTime @14 :Float32;
}

# One encoded packet; `header` holds codec config (VPS/SPS/PPS) on keyframes.
struct EncodeData {
  idx @0 :EncodeIndex;
  data @1 :Data;
  header @2 :Data;
  unixTimestampNanos @3 :UInt64;
}

struct ProcessState {
  name @0 :Text;
  pid @1 :Int32;
  running @2 :Bool;
  shouldBeRunning @3 :Bool;
  exitCode @4 :Int32;           # negative: killed by that signal
  restartCount @5 :UInt32;
  lastRestartMonoTime @6 :UInt64;
  nextRestartMonoTime @7 :UInt64;  # when backoff allows the next start (0: none pending)
  lastHeartbeatMonoTime @8 :UInt64;
  cpuUsagePercent @9 :Float32;
  memoryRssKb @10 :UInt64;
  startMonoTime @11 :UInt64;
}

struct ManagerState {
  processes @0 :List(ProcessState);
  shuttingDown @1 :Bool;
}

struct LogMessage {
  enum Level {
    debug @0;
    info @1;
    warning @2;
    error @3;
    critical @4;
  }
  enum Stream {
    stdout @0;
    stderr @1;
    log @2;
  }
  level @0 :Level;
  processName @1 :Text;
  pid @2 :Int32;
  monoTime @3 :UInt64;
  message @4 :Text;
  stream @5 :Stream;
  wallTimeNanos @6 :UInt64;
  filename @7 :Text;
  lineno @8 :UInt32;
  funcName @9 :Text;
}

struct SensorEventData {
  sensor @0 :Int32;
  type @1 :Int32;
  timestamp @2 :UInt64;
  values @3 :List(Float32);
  source @4 :Text;
}

struct CanData {
  address @0 :UInt32;
  busTime @1 :UInt16;
  dat @2 :Data;
  src @3 :UInt8;
}

struct LiveCalibration {
  warpMatrix @0 :List(Float32);  # 9 values, row-major 3x3
  valid @1 :Bool;
  rpyCalib @2 :List(Float32);    # roll, pitch, yaw in radians
  calPerc @3 :Int8;
}

struct LoggerdState {
  segmentNum @0 :Int32;
  droppedBytes @1 :UInt64;
  droppedMessages @2 :UInt64;
  bytesWritten @3 :UInt64;       # bytes that reached the files (compressed)
  ioBackend @4 :Text;            # "io_uring" or "pwrite"
  route @5 :Text;
  bytesLogged @6 :UInt64;        # bytes of events before compression
  flushes @7 :UInt64;
  pendingBytes @8 :UInt64;
  invalidMessages @9 :UInt64;    # well framed but not readable Events (cereal/event_check.h): not logged
  writeErrors @10 :UInt64;       # writes the disk refused (their bytes are in droppedBytes)
  streams @11 :List(StreamStats);  # per video file: packets written, skipped (waiting for a keyframe), bytes, held
}

# One stream of a process, in its state service (once a second). Counters run
# from the process's start; fps and latencyMs cover the last window (~1 s).
struct StreamStats {
  name @0 :Text;
  frames @1 :UInt64;             # sent (camerad), encoded (encoderd), processed (modeld), written (loggerd)
  dropped @2 :UInt64;            # lost on this stream: counted, never silent
  bytes @3 :UInt64;
  latencyMs @4 :Float32;         # mean processing latency over the last window
  fps @5 :Float32;
  queueDepth @6 :UInt32;         # frames or packets waiting inside the process
  errors @7 :UInt64;
}

struct EncoderdState {
  streams @0 :List(StreamStats);
}

struct CameradState {
  cameras @0 :List(StreamStats);
  path @1 :Text;            # v4l2: "dmabuf" (the device's buffers served in place) or "copy"
  device @2 :Text;          # v4l2: device, card and the format it delivers
  frameCopies @3 :UInt64;   # frames the CPU wrote into VisionIPC buffers
  bytesCopied @4 :UInt64;
  lateTicks @5 :UInt64;     # synthetic/file: frame deadlines camerad missed (it was not scheduled in time)
}

struct ModeldState {
  stream @0 :StreamStats;   # frames processed, dropped by conflation, latencyMs = model execution
  backend @1 :Text;
}

struct DeviceState {
  cpuUsagePercent @0 :List(Float32);
  memoryUsagePercent @1 :Float32;
  freeSpacePercent @2 :Float32;
  cpuTempC @3 :List(Float32);
  uptimeSeconds @4 :Float64;
}

struct Heartbeat {
  processName @0 :Text;
  pid @1 :Int32;
}

# What a bridge (bridge/bridge.cc) relays between this host's bus and others,
# per service and direction, counted since the bridge started.
struct BridgeState {
  services @0 :List(RelayedService);
  refusedClients @1 :UInt64;  # CURVE clients refused by the key check: they knew this bridge's public
                              # key but hold another (another secret fails the handshake before)

  struct RelayedService {
    name @0 :Text;
    direction @1 :Direction;
    peer @2 :Text;        # tcp:// endpoint: bound (publish) or connected to (subscribe)
    messages @3 :UInt64;  # relayed
    bytes @4 :UInt64;     # payload bytes relayed
    lost @5 :UInt64;      # missed before this bridge got them: local ring laps (publish); gaps in the
                          # source's sequence numbers: remote bridge down, network cut, queue overflow (subscribe)
    dropped @6 :UInt64;   # received but not relayed: malformed frames, messages too large for the ring
  }

  enum Direction {
    publish @0;    # local bus -> network
    subscribe @1;  # network -> local bus
  }
}

# Crash-safety tests: checksum covers seq and payload, so a reader can tell a
# complete message from a torn or corrupted one.
struct TestMessage {
  seq @0 :UInt64;
  payload @1 :Data;
  checksum @2 :UInt64;
}

struct Event {
  logMonoTime @0 :UInt64;  # when the message was built, CLOCK_MONOTONIC ns
  valid @1 :Bool = true;   # false when the producer knows its inputs were bad

  union {
    initData @2 :InitData;
    sentinel @3 :Sentinel;
    roadCameraState @4 :FrameData;
    wideRoadCameraState @5 :FrameData;
    driverCameraState @6 :FrameData;
    modelV2 @7 :ModelDataV2;
    roadEncodeIdx @8 :EncodeIndex;
    wideRoadEncodeIdx @9 :EncodeIndex;
    driverEncodeIdx @10 :EncodeIndex;
    qRoadEncodeIdx @11 :EncodeIndex;
    roadEncodeData @12 :EncodeData;
    wideRoadEncodeData @13 :EncodeData;
    driverEncodeData @14 :EncodeData;
    qRoadEncodeData @15 :EncodeData;
    managerState @16 :ManagerState;
    logMessage @17 :LogMessage;
    errorLogMessage @18 :LogMessage;
    sensorEvents @19 :List(SensorEventData);
    can @20 :List(CanData);
    liveCalibration @21 :LiveCalibration;
    loggerdState @22 :LoggerdState;
    encoderdState @23 :EncoderdState;
    cameradState @24 :CameradState;
    deviceState @25 :DeviceState;
    heartbeat @26 :Heartbeat;
    testMessage @27 :TestMessage;
    testLargeMessage @28 :TestMessage;  # a loan topic: built and read in place
    bridgeState @29 :BridgeState;
    modeldState @30 :ModeldState;

    # Yours: fill the structs in cereal/custom.capnp, not these lines.
    customReserved0 @31 :Custom.CustomReserved0;
    customReserved1 @32 :Custom.CustomReserved1;
    customReserved2 @33 :Custom.CustomReserved2;
    customReserved3 @34 :Custom.CustomReserved3;
    customReserved4 @35 :Custom.CustomReserved4;
    customReserved5 @36 :Custom.CustomReserved5;
    customReserved6 @37 :Custom.CustomReserved6;
    customReserved7 @38 :Custom.CustomReserved7;
    customReserved8 @39 :Custom.CustomReserved8;
    customReserved9 @40 :Custom.CustomReserved9;
  }
}
