// The CUDA executor: the op kernels of kernels/op_kernels.h launched on the
// device's stream with arguments fixed at start-up.
#include <cmath>
#include <functional>
#include <vector>

#include "modeld/cuda_device.h"
#include "modeld/plan.h"
#include "modeld/runner.h"
// clang-format off
#include "modeld/kernels/kernel_defs.h"
#include "modeld/kernels/kernel_params.h"
#include "modeld/kernels/op_kernels.h"
// clang-format on

namespace modeld {
namespace {

class CudaExecutor : public PlanExecutor {
 public:
  CudaExecutor(CudaDevice &cuda, const Plan &plan, const std::vector<DeviceBuffer> &buffers) {
    cudaStream_t s = cuda.stream();
    for (const Launch &l : plan.launches) {
      std::vector<float *> a;
      for (int v : l.args) a.push_back(v < 0 ? nullptr : static_cast<float *>(buffers[v].handle));
      dim3 block = l.range[1] > 1 || l.range[2] > 1 ? dim3(32, 8, 1) : dim3(256, 1, 1);
      dim3 grid(unsigned((l.range[0] + block.x - 1) / block.x), unsigned((l.range[1] + block.y - 1) / block.y),
                unsigned(l.range[2]));
      std::string node = l.node;
      std::function<void()> f;
      switch (l.kernel) {
        case Kernel::kConv2d: f = [=, p = l.p.conv] { conv2d<<<grid, block, 0, s>>>(a[0], a[1], a[2], a[3], p); }; break;
        case Kernel::kConv2dX4: f = [=, p = l.p.conv] { conv2d_x4<<<grid, block, 0, s>>>(a[0], a[1], a[2], a[3], p); }; break;
        case Kernel::kActivation: f = [=, p = l.p.activation] { activation<<<grid, block, 0, s>>>(a[0], a[1], p); }; break;
        case Kernel::kBinary: f = [=, p = l.p.binary] { binary<<<grid, block, 0, s>>>(a[0], a[1], a[2], p); }; break;
        case Kernel::kConcatCopy: f = [=, p = l.p.concat] { concat_copy<<<grid, block, 0, s>>>(a[0], a[1], p); }; break;
        case Kernel::kPool2d: f = [=, p = l.p.pool] { pool2d<<<grid, block, 0, s>>>(a[0], a[1], p); }; break;
        case Kernel::kMatMul: f = [=, p = l.p.matmul] { matmul<<<grid, block, 0, s>>>(a[0], a[1], a[2], a[3], p); }; break;
        case Kernel::kTranspose: f = [=, p = l.p.transpose] { transpose<<<grid, block, 0, s>>>(a[0], a[1], p); }; break;
        case Kernel::kSoftmax: f = [=, p = l.p.softmax] { softmax<<<grid, block, 0, s>>>(a[0], a[1], p); }; break;
      }
      steps_.push_back({std::move(f), node});
    }
  }

  void enqueue() override {
    for (auto &step : steps_) {
      step.launch();
      cudaError_t err = cudaGetLastError();
      if (err != cudaSuccess) cuda_check(err, (step.node + ": kernel launch").c_str());
    }
  }

 private:
  struct Step {
    std::function<void()> launch;
    std::string node;
  };
  std::vector<Step> steps_;
};

}  // namespace

std::unique_ptr<PlanExecutor> make_cuda_executor(Device &device, const Plan &plan, const std::vector<DeviceBuffer> &buffers) {
  return std::make_unique<CudaExecutor>(static_cast<CudaDevice &>(device), plan, buffers);
}

}  // namespace modeld
