// The OpenCL executor: one cl_kernel per launch with every argument bound at
// start-up (buffers never move), so a run is just clEnqueueNDRangeKernel calls.
#include "modeld/opencl_device.h"
#include "modeld/plan.h"
#include "modeld/runner.h"

namespace modeld {
namespace {

class OpenClExecutor : public PlanExecutor {
 public:
  OpenClExecutor(OpenClDevice &cl, const Plan &plan, const std::vector<DeviceBuffer> &buffers) : cl_(cl) {
    for (const Launch &l : plan.launches) {
      Step s;
      s.kernel = cl.kernel(kernel_name(l.kernel));
      steps_.push_back(s);
      cl_uint arg = 0;
      for (int v : l.args) {
        // An absent optional input gets any valid buffer: the kernel never reads it.
        cl_mem m = cl_mem(buffers[v >= 0 ? v : l.args[0]].handle);
        cl_check(clSetKernelArg(s.kernel, arg++, sizeof(cl_mem), &m), (l.node + ": clSetKernelArg").c_str());
      }
      cl_check(clSetKernelArg(s.kernel, arg, param_size(l.kernel), &l.p), (l.node + ": clSetKernelArg(params)").c_str());
      Step &st = steps_.back();
      st.dims = l.range[2] > 1 ? 3 : l.range[1] > 1 ? 2 : 1;
      cl.work_group(st.kernel, l.range.data(), st.dims, st.local, st.range);
      st.node = l.node;
    }
  }
  ~OpenClExecutor() override {
    cl_.finish();
    for (Step &s : steps_) clReleaseKernel(s.kernel);
  }

  void enqueue() override {
    for (Step &s : steps_) {
      cl_int err = clEnqueueNDRangeKernel(cl_.queue(), s.kernel, s.dims, nullptr, s.range, s.local, 0, nullptr, nullptr);
      if (err != CL_SUCCESS) cl_check(err, (s.node + ": clEnqueueNDRangeKernel").c_str());
    }
  }

 private:
  struct Step {
    cl_kernel kernel = nullptr;
    cl_uint dims = 1;
    size_t range[3] = {1, 1, 1};
    size_t local[3] = {1, 1, 1};
    std::string node;
  };

  static size_t param_size(Kernel k) {
    switch (k) {
      case Kernel::kConv2d:
      case Kernel::kConv2dX4: return sizeof(ConvParams);
      case Kernel::kActivation: return sizeof(ActivationParams);
      case Kernel::kBinary: return sizeof(BinaryParams);
      case Kernel::kConcatCopy: return sizeof(ConcatParams);
      case Kernel::kPool2d: return sizeof(PoolParams);
      case Kernel::kMatMul: return sizeof(MatMulParams);
      case Kernel::kTranspose: return sizeof(TransposeParams);
      case Kernel::kSoftmax: return sizeof(SoftmaxParams);
    }
    return 0;
  }

  OpenClDevice &cl_;
  std::vector<Step> steps_;
};

}  // namespace

std::unique_ptr<PlanExecutor> make_opencl_executor(Device &device, const Plan &plan,
                                                   const std::vector<DeviceBuffer> &buffers) {
  return std::make_unique<OpenClExecutor>(static_cast<OpenClDevice &>(device), plan, buffers);
}

}  // namespace modeld
