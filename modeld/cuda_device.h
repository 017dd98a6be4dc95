#pragma once
// The CUDA device behind Backend::kCuda (included by the .cu files only):
// device 0, one stream, two timing events, memory from cudaMalloc.
#include <cuda_runtime.h>

#include <vector>

#include "modeld/device.h"

namespace modeld {

// Throws std::runtime_error("<what>: <CUDA error name>: <description>") unless err == cudaSuccess.
void cuda_check(cudaError_t err, const char *what);

class CudaDevice : public Device {
 public:
  CudaDevice();
  ~CudaDevice() override;

  Backend backend() const override { return Backend::kCuda; }
  std::string description() const override { return description_; }
  DeviceBuffer alloc(size_t bytes) override;
  void release(DeviceBuffer &b) override;
  size_t allocated_bytes() const override { return allocated_; }
  void upload(const DeviceBuffer &dst, size_t offset, const void *src, size_t bytes) override;
  void download(const DeviceBuffer &src, size_t offset, void *dst, size_t bytes) override;
  void copy(const DeviceBuffer &dst, size_t dst_offset, const DeviceBuffer &src, size_t src_offset,
            size_t bytes) override;
  void finish() override;
  void begin_timing() override;
  double end_timing_ms() override;

  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, end_ = nullptr;
  std::string description_;
  std::vector<void *> buffers_;
  size_t allocated_ = 0;
};

}  // namespace modeld
