#pragma once
// The modeld loop: newest road frame from VisionIPC (conflated) -> warp with
// the calibration (liveCalibration.warpMatrix when published, a full-frame
// view otherwise) -> model -> one modelV2 message per processed frame.
//
// modelV2 fields: frameId and timestampEof of the frame; frameAge = frames
// published by the camera after it by the time the result is out; frameDropPerc
// = frames skipped over the last second (conflate keeps only the newest),
// in percent; modelExecutionTime (total), transformTime, gpuExecutionTime
// (device time of transform + model), all in seconds; backend; rawPredictions
// (every output, float32 little-endian, concatenated in output order, shapes in
// outputShape); rowEdges / sceneChange from the outputs of those names.
// modeldState once a second: frames processed, dropped by conflation, fps,
// mean model execution time (latencyMs), the backend.
// Threads: run() blocks the calling thread until stop() (async-signal-safe).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "modeld/drop_counter.h"
#include "modeld/pipeline.h"

namespace modeld {

struct DaemonOptions {
  std::string server = "camerad";
  int stream = 0;              // VisionStreamType
  uint64_t max_frames = 0;     // exit after this many published frames (0 = run until stopped)
};

class Daemon {
 public:
  Daemon(std::unique_ptr<ModelPipeline> pipeline, DaemonOptions options);
  ~Daemon();
  // Returns the process exit code.
  int run();
  void stop() { stop_ = true; }

 private:
  std::unique_ptr<ModelPipeline> pipeline_;
  DaemonOptions options_;
  std::atomic<bool> stop_{false};
};

}  // namespace modeld
