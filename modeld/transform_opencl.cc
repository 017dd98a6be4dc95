// The OpenCL frame transform: kernels/warp_kernel.h over a cl_mem that wraps
// the caller's frame memory (CL_MEM_USE_HOST_PTR), so the pixels are read where
// VisionIPC put them. The wrappers are made once per buffer and cached: a
// VisionIPC pool has a handful of buffers that live as long as the connection.
#include <algorithm>
#include <vector>

#include "modeld/opencl_device.h"
#include "modeld/transform.h"

namespace modeld {
namespace {

constexpr size_t kMaxWrappedBuffers = 64;

class OpenClTransform : public FrameTransform {
 public:
  OpenClTransform(std::shared_ptr<Device> device, int out_w, int out_h)
      : FrameTransform(std::move(device), out_w, out_h), cl_(static_cast<OpenClDevice &>(*device_)) {
    kernel_ = cl_.kernel("warp_yuv420");
  }
  ~OpenClTransform() override {
    cl_.finish();
    OpenClTransform::release_frame_buffers();  // this class's: no dynamic binding in a destructor
    clReleaseKernel(kernel_);
  }

  void release_frame_buffers() override {
    for (auto &w : wrapped_) clReleaseMemObject(w.mem);
    wrapped_.clear();
  }

 protected:
  void warp_host(const Frame &f, const WarpParams &m, const DeviceBuffer &dst, const WarpGeometry &g) override {
    enqueue(wrap(f), m, dst, g);
  }
  void warp_device(const DeviceBuffer &src, const WarpParams &m, const DeviceBuffer &dst,
                   const WarpGeometry &g) override {
    enqueue(cl_mem(src.handle), m, dst, g);
  }

 private:
  struct Wrapped {
    const uint8_t *data;
    size_t size;
    cl_mem mem;
  };

  cl_mem wrap(const Frame &f) {
    size_t size = f.size();
    auto it = std::find_if(wrapped_.begin(), wrapped_.end(),
                           [&](const Wrapped &w) { return w.data == f.data && w.size == size; });
    if (it != wrapped_.end()) return it->mem;
    if (wrapped_.size() == kMaxWrappedBuffers) {
      cl_.finish();  // the oldest wrapper may still be read by queued work
      clReleaseMemObject(wrapped_.front().mem);
      wrapped_.erase(wrapped_.begin());
    }
    cl_int err;
    cl_mem mem = clCreateBuffer(cl_.context(), CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, size,
                                const_cast<uint8_t *>(f.data), &err);
    cl_check(err, "clCreateBuffer(CL_MEM_USE_HOST_PTR) over the frame");
    wrapped_.push_back({f.data, size, mem});
    return mem;
  }

  void enqueue(cl_mem src, const WarpParams &m, const DeviceBuffer &dst, const WarpGeometry &g) {
    cl_mem out = cl_mem(dst.handle);
    cl_check(clSetKernelArg(kernel_, 0, sizeof(cl_mem), &src), "clSetKernelArg(warp_yuv420 frame)");
    cl_check(clSetKernelArg(kernel_, 1, sizeof(g), &g), "clSetKernelArg(warp_yuv420 geometry)");
    cl_check(clSetKernelArg(kernel_, 2, sizeof(m), &m), "clSetKernelArg(warp_yuv420 matrices)");
    cl_check(clSetKernelArg(kernel_, 3, sizeof(cl_mem), &out), "clSetKernelArg(warp_yuv420 output)");
    cl_check(clSetKernelArg(kernel_, 4, sizeof(cl_mem), &out), "clSetKernelArg(warp_yuv420 history)");
    size_t range[3] = {size_t(g.out_w2), size_t(g.out_h2), 1}, local[3], global[3];
    cl_.work_group(kernel_, range, 2, local, global);
    cl_check(clEnqueueNDRangeKernel(cl_.queue(), kernel_, 2, nullptr, global, local, 0, nullptr, nullptr),
             "clEnqueueNDRangeKernel(warp_yuv420)");
  }

  OpenClDevice &cl_;
  cl_kernel kernel_ = nullptr;
  std::vector<Wrapped> wrapped_;
};

}  // namespace

std::unique_ptr<FrameTransform> make_opencl_transform(std::shared_ptr<Device> device, int out_w, int out_h) {
  return std::make_unique<OpenClTransform>(std::move(device), out_w, out_h);
}

}  // namespace modeld
