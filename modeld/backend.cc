#include "modeld/backend.h"

#include <cstdlib>

#include "modeld/device.h"
#include "modeld/opencl_device.h"

namespace modeld {

std::string cuda_unavailable_reason();  // device_cuda.cu, or cuda_disabled.cc without nvcc

const char *backend_name(Backend b) {
  switch (b) {
    case Backend::kCpu: return "cpu";
    case Backend::kOpenCL: return "opencl";
    case Backend::kCuda: return "cuda";
  }
  return "?";
}

Backend parse_backend(const std::string &name) {
  for (Backend b : {Backend::kOpenCL, Backend::kCuda, Backend::kCpu}) {
    if (name == backend_name(b)) return b;
  }
  throw std::invalid_argument("unknown backend '" + name + "', expected one of: opencl, cuda, cpu");
}

static std::string opencl_unavailable_reason() {
  cl_uint n = 0;
  if (clGetPlatformIDs(0, nullptr, &n) != CL_SUCCESS || n == 0) return "no OpenCL platform (install an ICD, e.g. pocl-opencl-icd)";
  std::vector<cl_platform_id> platforms(n);
  clGetPlatformIDs(n, platforms.data(), nullptr);
  for (cl_platform_id p : platforms) {
    cl_uint devices = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &devices) == CL_SUCCESS && devices > 0) return "";
  }
  return "no OpenCL device on " + std::to_string(n) + " platform(s)";
}

std::string backend_unavailable_reason(Backend b) {
  switch (b) {
    case Backend::kCpu: return "";
    case Backend::kOpenCL: return opencl_unavailable_reason();
    case Backend::kCuda: return cuda_unavailable_reason();
  }
  return "unknown backend";
}

std::vector<Backend> available_backends() {
  std::vector<Backend> r;
  for (Backend b : {Backend::kCuda, Backend::kOpenCL, Backend::kCpu}) {
    if (backend_unavailable_reason(b).empty()) r.push_back(b);
  }
  return r;
}

Backend choose_backend(const std::string &requested) {
  std::string name = requested;
  if (name.empty()) {
    const char *env = std::getenv("MODELD_BACKEND");
    if (env && *env) name = env;
  }
  if (name.empty()) return available_backends().front();
  Backend b = parse_backend(name);
  std::string why = backend_unavailable_reason(b);
  if (!why.empty()) throw std::runtime_error("backend " + name + " is unavailable: " + why);
  return b;
}

std::shared_ptr<Device> Device::open(Backend b) {
  switch (b) {
    case Backend::kCpu: return open_cpu_device();
    case Backend::kOpenCL: return open_opencl_device();
    case Backend::kCuda: return open_cuda_device();
  }
  throw std::invalid_argument("unknown backend");
}

void Device::reserve(DeviceBuffer &b, size_t bytes) {
  if (b.handle && b.bytes >= bytes) return;
  if (b.handle) release(b);
  b = alloc(bytes);
}

}  // namespace modeld
