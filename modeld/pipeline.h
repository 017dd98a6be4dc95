#pragma once
// ModelPipeline: the per-frame work of modeld on one device. Warps the newest
// frame into the model input (after shifting the previous frame into the first
// half when the model takes two frames), runs the model, and times both.
//
// The model must have one input of shape [1, 6k, out_h/2, out_w/2]: k = 1
// (this frame) or k = 2 (previous frame, then this frame); the model frame
// size follows from it. Checked at construction (ModelError naming the input).
//
// copy_frame = true is the copy-based path kept for comparison: the frame is
// first copied into device memory, then transformed from there.
// Threads: one thread at a time.
#include <memory>

#include "modeld/runner.h"
#include "modeld/transform.h"

namespace modeld {

struct FrameTimings {
  double transform_ms = 0;  // wall time: frame (copy and) warp, done on the device
  double inference_ms = 0;  // wall time: model run, done on the device
  double total_ms = 0;
  double device_ms = 0;     // device time of both (profiling; wall time on cpu)
};

class ModelPipeline {
 public:
  ModelPipeline(std::shared_ptr<Device> device, Model model, bool copy_frame = false);
  ~ModelPipeline();

  FrameTimings process(const Frame &frame, const Mat3 &warp);
  // The next frame starts a new history (both halves become that frame).
  void reset_history() { have_history_ = false; }

  int model_width() const { return transform_->out_width(); }
  int model_height() const { return transform_->out_height(); }
  int frames_per_input() const { return frames_; }
  ModelRunner &runner() { return *runner_; }
  FrameTransform &transform() { return *transform_; }
  Device &device() { return *device_; }

 private:
  std::shared_ptr<Device> device_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<FrameTransform> transform_;
  bool copy_frame_;
  int frames_ = 1;
  bool have_history_ = false;
  DeviceBuffer frame_copy_;
};

}  // namespace modeld
