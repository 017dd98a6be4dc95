#pragma once
// The three compute backends of modeld and how one is chosen.
//
//   opencl  any OpenCL ICD: a GPU where there is one, pocl on the CPU otherwise
//   cuda    an NVIDIA device (only when modeld was built with nvcc)
//   cpu     plain C++: the reference every other backend is tested against
#include <stdexcept>
#include <string>
#include <vector>

namespace modeld {

enum class Backend { kCpu, kOpenCL, kCuda };

// "cpu", "opencl", "cuda".
const char *backend_name(Backend b);

// Parses a backend name; throws std::invalid_argument naming the valid ones.
Backend parse_backend(const std::string &name);

// Why `b` cannot be used on this machine, or "" when it can (probes the
// driver: an OpenCL platform with a device, a CUDA device).
std::string backend_unavailable_reason(Backend b);

// Usable backends, fastest first (cuda, opencl, cpu).
std::vector<Backend> available_backends();

// --backend value if given, else $MODELD_BACKEND, else the fastest available.
// Throws std::runtime_error when the requested backend is unusable, with the reason.
Backend choose_backend(const std::string &requested);

}  // namespace modeld
