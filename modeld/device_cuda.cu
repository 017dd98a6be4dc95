#include <algorithm>
#include <stdexcept>
#include <string>

#include "modeld/cuda_device.h"

namespace modeld {

void cuda_check(cudaError_t err, const char *what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
}

std::string cuda_unavailable_reason() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(err);
  if (n == 0) return "no CUDA device";
  return "";
}

CudaDevice::CudaDevice() {
  std::string why = cuda_unavailable_reason();
  if (!why.empty()) throw std::runtime_error("cuda: " + why);
  cuda_check(cudaSetDevice(0), "cudaSetDevice");
  cudaDeviceProp prop;
  cuda_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  description_ = std::string("cuda: ") + prop.name + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
  cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  cuda_check(cudaEventCreate(&start_), "cudaEventCreate");
  cuda_check(cudaEventCreate(&end_), "cudaEventCreate");
}

CudaDevice::~CudaDevice() {
  if (stream_) cudaStreamSynchronize(stream_);
  for (void *p : buffers_) cudaFree(p);
  if (start_) cudaEventDestroy(start_);
  if (end_) cudaEventDestroy(end_);
  if (stream_) cudaStreamDestroy(stream_);
}

DeviceBuffer CudaDevice::alloc(size_t bytes) {
  void *p = nullptr;
  cuda_check(cudaMalloc(&p, bytes ? bytes : 4), "cudaMalloc");
  buffers_.push_back(p);
  allocated_ += bytes;
  cuda_check(cudaMemsetAsync(p, 0, bytes ? bytes : 4, stream_), "cudaMemsetAsync");
  return {p, bytes};
}

void CudaDevice::release(DeviceBuffer &b) {
  auto it = std::find(buffers_.begin(), buffers_.end(), b.handle);
  if (it == buffers_.end()) throw std::runtime_error("cuda release: not a buffer of this device");
  cuda_check(cudaFree(*it), "cudaFree");
  buffers_.erase(it);
  allocated_ -= b.bytes;
  b = {};
}

void CudaDevice::upload(const DeviceBuffer &dst, size_t offset, const void *src, size_t bytes) {
  cuda_check(cudaMemcpyAsync(static_cast<char *>(dst.handle) + offset, src, bytes, cudaMemcpyHostToDevice, stream_),
             "cudaMemcpyAsync(upload)");
  finish();  // the caller may reuse `src` as soon as we return
}

void CudaDevice::download(const DeviceBuffer &src, size_t offset, void *dst, size_t bytes) {
  cuda_check(cudaMemcpyAsync(dst, static_cast<const char *>(src.handle) + offset, bytes, cudaMemcpyDeviceToHost, stream_),
             "cudaMemcpyAsync(download)");
  finish();
}

void CudaDevice::copy(const DeviceBuffer &dst, size_t dst_offset, const DeviceBuffer &src, size_t src_offset,
                      size_t bytes) {
  cuda_check(cudaMemcpyAsync(static_cast<char *>(dst.handle) + dst_offset,
                             static_cast<const char *>(src.handle) + src_offset, bytes, cudaMemcpyDeviceToDevice, stream_),
             "cudaMemcpyAsync(copy)");
}

void CudaDevice::finish() { cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

void CudaDevice::begin_timing() { cuda_check(cudaEventRecord(start_, stream_), "cudaEventRecord"); }

double CudaDevice::end_timing_ms() {
  cuda_check(cudaEventRecord(end_, stream_), "cudaEventRecord");
  cuda_check(cudaEventSynchronize(end_), "cudaEventSynchronize");
  float ms = 0;
  cuda_check(cudaEventElapsedTime(&ms, start_, end_), "cudaEventElapsedTime");
  return ms;
}

std::shared_ptr<Device> open_cuda_device() { return std::make_shared<CudaDevice>(); }

}  // namespace modeld
