#include "visionipc/visionbuf_cuda.h"

#include <cuda_runtime.h>

namespace visionipc {

namespace {

void unregister(VisionBuf *buf) { cudaHostUnregister(buf->addr); }

}  // namespace

bool cuda_device_present(std::string *why) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device";
    return false;
  }
  return true;
}

void cuda_register(VisionBuf *buf) {
  if (buf->cuda_ptr) return;
  cudaError_t err = cudaHostRegister(buf->addr, buf->len, cudaHostRegisterMapped | cudaHostRegisterPortable);
  if (err != cudaSuccess) throw Error(std::string("cudaHostRegister of a frame buffer: ") + cudaGetErrorString(err));
  void *dev = nullptr;
  err = cudaHostGetDevicePointer(&dev, buf->addr, 0);
  if (err != cudaSuccess) {
    cudaHostUnregister(buf->addr);
    throw Error(std::string("cudaHostGetDevicePointer of a frame buffer: ") + cudaGetErrorString(err));
  }
  buf->cuda_ptr = dev;
  buf->cuda_unregister = unregister;
}

}  // namespace visionipc
