#include "modeld/transform.h"

#include <algorithm>
#include <cstdint>
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

void FrameTransform::check_destination(const DeviceBuffer &dst, size_t dst_offset, size_t history_offset) const {
  for (size_t offset : {dst_offset, history_offset}) {
    if (offset == kNoHistory) continue;
    size_t need = (offset + output_floats()) * sizeof(float);
    if (!dst.handle || dst.bytes < need || need > size_t(INT32_MAX)) {
      throw std::invalid_argument("frame transform: destination holds " + std::to_string(dst.bytes) +
                                  " bytes, expected at least " + std::to_string(need) + " (offset " +
                                  std::to_string(offset) + " + " + std::to_string(output_floats()) + " floats)");
    }
  }
  if (history_offset != kNoHistory && std::max(dst_offset, history_offset) - std::min(dst_offset, history_offset) <
                                          output_floats()) {
    throw std::invalid_argument("frame transform: the history planes overlap the output planes");
  }
}

WarpGeometry FrameTransform::geometry(const Frame &frame, size_t dst_offset, size_t history_offset) const {
  const conduit::Yuv420Layout &l = frame.layout;
  if (frame.size() > size_t(INT32_MAX)) throw std::invalid_argument("frame transform: frame larger than 2 GiB");
  return {l.width, l.height, l.stride, int(l.u_offset), int(l.v_offset), l.uv_stride, l.uv_step, out_w_ / 2, out_h_ / 2,
          int(dst_offset), history_offset == kNoHistory ? -1 : int(history_offset)};
}

void FrameTransform::run(const Frame &frame, const Mat3 &warp, const DeviceBuffer &dst, size_t dst_offset,
                         size_t history_offset) {
  frame.validate();
  check_destination(dst, dst_offset, history_offset);
  warp_host(frame, warp_params(warp), dst, geometry(frame, dst_offset, history_offset));
}

void FrameTransform::run_from_device(const DeviceBuffer &src, const Frame &layout, const Mat3 &warp,
                                     const DeviceBuffer &dst, size_t dst_offset, size_t history_offset) {
  Frame checked = layout;
  checked.data = reinterpret_cast<const uint8_t *>(src.handle);
  checked.validate();
  if (src.bytes < layout.size()) {
    throw std::invalid_argument("frame transform: device frame holds " + std::to_string(src.bytes) +
                                " bytes, the layout needs " + std::to_string(layout.size()));
  }
  check_destination(dst, dst_offset, history_offset);
  warp_device(src, warp_params(warp), dst, geometry(layout, dst_offset, history_offset));
}

}  // namespace modeld
