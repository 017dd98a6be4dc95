#include "modeld/transform.h"

#include <string>

namespace modeld {

std::unique_ptr<FrameTransform> FrameTransform::create(std::shared_ptr<Device> device, int out_w, int out_h) {
  if (out_w <= 0 || out_h <= 0 || out_w % 2 || out_h % 2) {
    throw std::invalid_argument("frame transform: model frame " + std::to_string(out_w) + "x" +
                                std::to_string(out_h) + " must have a positive, even width and height");
  }
  switch (device->backend()) {
    case Backend::kCpu: return make_cpu_transform(std::move(device), out_w, out_h);
    case Backend::kOpenCL: return make_opencl_transform(std::move(device), out_w, out_h);
    case Backend::kCuda: return make_cuda_transform(std::move(device), out_w, out_h);
  }
  throw std::invalid_argument("frame transform: unknown backend");
}

FrameTransform::FrameTransform(std::shared_ptr<Device> device, int out_w, int out_h)
    : device_(std::move(device)), out_w_(out_w), out_h_(out_h) {}

void FrameTransform::check_destination(const DeviceBuffer &dst, size_t dst_offset) const {
  size_t need = (dst_offset + output_floats()) * sizeof(float);
  if (!dst.handle || dst.bytes < need) {
    throw std::invalid_argument("frame transform: destination holds " + std::to_string(dst.bytes) +
                                " bytes, expected at least " + std::to_string(need) + " (offset " +
                                std::to_string(dst_offset) + " + " + std::to_string(output_floats()) + " floats)");
  }
}

WarpGeometry FrameTransform::geometry(const Nv12Frame &frame, size_t dst_offset) const {
  return {frame.width, frame.height, frame.stride, int(frame.uv_offset), out_w_ / 2, out_h_ / 2, int(dst_offset)};
}

void FrameTransform::run(const Nv12Frame &frame, const Mat3 &warp, const DeviceBuffer &dst, size_t dst_offset) {
  frame.validate();
  check_destination(dst, dst_offset);
  warp_host(frame, warp_params(warp), dst, dst_offset);
}

void FrameTransform::run_from_device(const DeviceBuffer &src, const Nv12Frame &layout, const Mat3 &warp,
                                     const DeviceBuffer &dst, size_t dst_offset) {
  Nv12Frame checked = layout;
  checked.data = reinterpret_cast<const uint8_t *>(src.handle);
  checked.validate();
  if (src.bytes < layout.size()) {
    throw std::invalid_argument("frame transform: device frame holds " + std::to_string(src.bytes) +
                                " bytes, the layout needs " + std::to_string(layout.size()));
  }
  check_destination(dst, dst_offset);
  warp_device(src, layout, warp_params(warp), dst, dst_offset);
}

}  // namespace modeld
