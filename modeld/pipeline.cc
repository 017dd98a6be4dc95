#include "modeld/pipeline.h"

#include "common/clock.h"

namespace modeld {

ModelPipeline::ModelPipeline(std::shared_ptr<Device> device, Model model, bool copy_frame)
    : device_(device), copy_frame_(copy_frame) {
  if (model.inputs.size() != 1) {
    throw ModelError("modeld feeds exactly one input (the model frame), the model has " +
                     std::to_string(model.inputs.size()));
  }
  const Value &in = model.values[model.inputs[0]];
  const Shape &s = in.shape;
  if (s.size() != 4 || s[0] != 1 || (s[1] != 6 && s[1] != 12)) {
    throw ModelError("model input '" + in.name + "' has shape " + shape_string(s) +
                     ", expected [1, 6, H, W] (one frame) or [1, 12, H, W] (previous and current frame)");
  }
  frames_ = s[1] / 6;
  runner_ = ModelRunner::create(device, std::move(model));
  transform_ = FrameTransform::create(device, 2 * s[3], 2 * s[2]);
}

ModelPipeline::~ModelPipeline() {
  if (frame_copy_.handle) device_->release(frame_copy_);
}

FrameTimings ModelPipeline::process(const Frame &frame, const Mat3 &warp) {
  FrameTimings t;
  const DeviceBuffer &input = runner_->input_buffer(0);
  const size_t frame_floats = transform_->output_floats();
  const size_t current = (frames_ - 1) * frame_floats;  // where this frame's planes go
  uint64_t t0 = conduit::mono_ns();
  device_->begin_timing();
  // The previous frame moves to the first half in the transform's own pass.
  const size_t history = frames_ == 2 && have_history_ ? 0 : FrameTransform::kNoHistory;
  if (copy_frame_) {
    frame.validate();
    device_->reserve(frame_copy_, frame.size());
    device_->upload(frame_copy_, 0, frame.data, frame.size());
    transform_->run_from_device(frame_copy_, frame, warp, input, current, history);
  } else {
    transform_->run(frame, warp, input, current, history);
  }
  if (frames_ == 2 && !have_history_) {
    device_->copy(input, 0, input, current * sizeof(float), frame_floats * sizeof(float));
  }
  have_history_ = true;
  device_->finish();
  uint64_t t1 = conduit::mono_ns();
  runner_->enqueue();
  t.device_ms = device_->end_timing_ms();
  uint64_t t2 = conduit::mono_ns();
  t.transform_ms = (t1 - t0) * 1e-6;
  t.inference_ms = (t2 - t1) * 1e-6;
  t.total_ms = (t2 - t0) * 1e-6;
  return t;
}

}  // namespace modeld
