#pragma once
// CUDA interop for VisionBuf: page-locks the frame mapping and maps it into the
// device address space (cudaHostRegister with cudaHostRegisterMapped), so a
// kernel reads the frame in place through buf->cuda_ptr.
// Built only where nvcc exists (library `visionipc_cuda`, link it with cudart);
// usable only where a device exists: check cuda_device_present() first.
// Errors: visionipc::Error carrying the CUDA error string.
#include <string>

#include "visionipc/visionbuf.h"

namespace visionipc {

// True when the CUDA runtime reports at least one device; otherwise `why` says why not.
bool cuda_device_present(std::string *why);
// Registers the buffer (idempotent); the VisionBuf unregisters itself when freed.
void cuda_register(VisionBuf *buf);

}  // namespace visionipc
