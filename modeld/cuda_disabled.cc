// Built instead of the .cu files when nvcc was not found: the cuda backend
// reports itself unavailable with the reason, and nothing else changes.
#include "modeld/device.h"
#include "modeld/runner.h"
#include "modeld/transform.h"

namespace modeld {

static const char kWhy[] = "modeld was built without CUDA (nvcc not found at build time)";

std::string cuda_unavailable_reason() { return kWhy; }
std::shared_ptr<Device> open_cuda_device() { throw std::runtime_error(kWhy); }
std::unique_ptr<FrameTransform> make_cuda_transform(std::shared_ptr<Device>, int, int) { throw std::runtime_error(kWhy); }
std::unique_ptr<PlanExecutor> make_cuda_executor(Device &, const Plan &, const std::vector<DeviceBuffer> &) {
  throw std::runtime_error(kWhy);
}

}  // namespace modeld
