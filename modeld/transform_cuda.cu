// The CUDA frame transform: kernels/warp_kernel.h reading the caller's frame
// memory through a mapped registration (cudaHostRegister), cached per buffer
// like the OpenCL wrappers: on an integrated GPU (Jetson) that is the very
// memory the camera wrote; on a discrete one each pixel crosses the bus once.
#include <algorithm>
#include <cmath>
#include <vector>

#include "modeld/cuda_device.h"
#include "modeld/transform.h"
// clang-format off
#include "modeld/kernels/kernel_defs.h"
#include "modeld/kernels/kernel_params.h"
#include "modeld/kernels/warp_kernel.h"
// clang-format on

namespace modeld {
namespace {

constexpr size_t kMaxRegisteredBuffers = 64;

class CudaTransform : public FrameTransform {
 public:
  CudaTransform(std::shared_ptr<Device> device, int out_w, int out_h)
      : FrameTransform(std::move(device), out_w, out_h), cuda_(static_cast<CudaDevice &>(*device_)) {}
  ~CudaTransform() override {
    cuda_.finish();
    release_frame_buffers();
  }

  void release_frame_buffers() override {
    for (auto &r : registered_) cudaHostUnregister(const_cast<uint8_t *>(r.data));
    registered_.clear();
  }

 protected:
  void warp_host(const Frame &f, const WarpParams &m, const DeviceBuffer &dst, const WarpGeometry &g) override {
    launch(device_pointer(f), m, dst, g);
  }
  void warp_device(const DeviceBuffer &src, const WarpParams &m, const DeviceBuffer &dst,
                   const WarpGeometry &g) override {
    launch(static_cast<const uint8_t *>(src.handle), m, dst, g);
  }

 private:
  struct Registered {
    const uint8_t *data;
    size_t size;
    const uint8_t *device;
  };

  const uint8_t *device_pointer(const Frame &f) {
    size_t size = f.size();
    auto it = std::find_if(registered_.begin(), registered_.end(),
                           [&](const Registered &r) { return r.data == f.data && r.size == size; });
    if (it != registered_.end()) return it->device;
    if (registered_.size() == kMaxRegisteredBuffers) {
      cuda_.finish();
      cudaHostUnregister(const_cast<uint8_t *>(registered_.front().data));
      registered_.erase(registered_.begin());
    }
    void *host = const_cast<uint8_t *>(f.data);
    // Read-only registration where the device supports it (no write-back tracking), plain mapped otherwise.
    if (cudaHostRegister(host, size, cudaHostRegisterMapped | cudaHostRegisterReadOnly) != cudaSuccess) {
      cudaGetLastError();
      cuda_check(cudaHostRegister(host, size, cudaHostRegisterMapped), "cudaHostRegister over the frame");
    }
    void *dev = nullptr;
    cuda_check(cudaHostGetDevicePointer(&dev, host, 0), "cudaHostGetDevicePointer");
    registered_.push_back({f.data, size, static_cast<const uint8_t *>(dev)});
    return registered_.back().device;
  }

  void launch(const uint8_t *src, const WarpParams &m, const DeviceBuffer &dst, const WarpGeometry &g) {
    dim3 block(32, 8);
    dim3 grid((g.out_w2 + block.x - 1) / block.x, (g.out_h2 + block.y - 1) / block.y);
    float *out = static_cast<float *>(dst.handle);
    warp_yuv420<<<grid, block, 0, cuda_.stream()>>>(src, g, m, out, out);
    cuda_check(cudaGetLastError(), "warp_yuv420 launch");
  }

  CudaDevice &cuda_;
  std::vector<Registered> registered_;
};

}  // namespace

std::unique_ptr<FrameTransform> make_cuda_transform(std::shared_ptr<Device> device, int out_w, int out_h) {
  return std::make_unique<CudaTransform>(std::move(device), out_w, out_h);
}

}  // namespace modeld
