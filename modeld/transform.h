#pragma once
// The frame transform: warps a 4:2:0 camera frame (NV12 or I420, read through
// its layout's chroma offsets, row stride and pixel step) into the model frame, the
// planar input the model reads. Output for a model frame of out_w x out_h luma
// pixels: six planes of (out_h/2) x (out_w/2) floats, whole numbers 0..255:
// luma at (even row, even col), (even, odd), (odd, even), (odd, odd), then U, V.
//
// One interface, three backends (cpu reference, opencl, cuda) that agree
// within 1 LSB. run() reads the frame in place: opencl wraps the caller's
// memory in a cl_mem (CL_MEM_USE_HOST_PTR, cached per buffer), cuda registers
// it (cudaHostRegister, mapped). run_from_device() reads a frame the caller
// already copied into device memory (the copy-based path).
//
// Asynchronous on opencl/cuda: the frame must stay valid and unchanged until
// the device's finish(). Errors: std::invalid_argument for a bad frame, sizes
// or destination; std::runtime_error from the driver.
#include <memory>

#include "modeld/device.h"
#include "modeld/frame.h"
#include "modeld/warp.h"

namespace modeld {

class FrameTransform {
 public:
  // out_w and out_h: even, positive.
  static std::unique_ptr<FrameTransform> create(std::shared_ptr<Device> device, int out_w, int out_h);
  virtual ~FrameTransform() = default;

  int out_width() const { return out_w_; }
  int out_height() const { return out_h_; }
  size_t output_floats() const { return 6 * size_t(out_w_ / 2) * size_t(out_h_ / 2); }
  Device &device() { return *device_; }

  // Writes output_floats() floats into `dst` from float index `dst_offset` on.
  // With a `history_offset`, the floats found at dst_offset are first moved
  // there in the same pass (the previous frame of a two-frame model input).
  static constexpr size_t kNoHistory = size_t(-1);
  void run(const Frame &frame, const Mat3 &warp, const DeviceBuffer &dst, size_t dst_offset,
           size_t history_offset = kNoHistory);
  // Same, reading the frame from `src` (device memory of this transform's device)
  // laid out as `layout` describes (layout.data is not read).
  void run_from_device(const DeviceBuffer &src, const Frame &layout, const Mat3 &warp, const DeviceBuffer &dst,
                       size_t dst_offset, size_t history_offset = kNoHistory);

  // Forgets every frame buffer wrapped for in-place access (call when the
  // frame buffers are unmapped, e.g. after a VisionIPC reconnect).
  virtual void release_frame_buffers() {}

 protected:
  FrameTransform(std::shared_ptr<Device> device, int out_w, int out_h);
  WarpGeometry geometry(const Frame &frame, size_t dst_offset, size_t history_offset) const;
  virtual void warp_host(const Frame &frame, const WarpParams &m, const DeviceBuffer &dst,
                         const WarpGeometry &g) = 0;
  virtual void warp_device(const DeviceBuffer &src, const WarpParams &m, const DeviceBuffer &dst,
                           const WarpGeometry &g) = 0;

  std::shared_ptr<Device> device_;
  int out_w_, out_h_;

 private:
  void check_destination(const DeviceBuffer &dst, size_t dst_offset, size_t history_offset) const;
};

// Backend implementations (transform_cpu.cc, transform_opencl.cc, transform_cuda.cu).
std::unique_ptr<FrameTransform> make_cpu_transform(std::shared_ptr<Device> device, int out_w, int out_h);
std::unique_ptr<FrameTransform> make_opencl_transform(std::shared_ptr<Device> device, int out_w, int out_h);
std::unique_ptr<FrameTransform> make_cuda_transform(std::shared_ptr<Device> device, int out_w, int out_h);

}  // namespace modeld
