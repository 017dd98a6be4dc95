#pragma once
// ModelRunner: executes a validated Model on one Device (cpu, opencl, cuda).
//
// Every buffer — inputs, weights, intermediates — is allocated and every
// kernel is prepared in create(); run() only queues the launches, so a frame
// costs no allocation. The destructor gives the buffers back to the device.
// Inputs are written in device memory (input_buffer(), e.g. by the
// FrameTransform of the same device) or from the host (set_input); outputs are
// read with read_output().
//
// Threads: one thread at a time. Errors: create() throws ModelError for a graph
// this backend cannot run and std::runtime_error from the driver; afterwards
// only driver failures throw.
#include <memory>
#include <vector>

#include "modeld/device.h"
#include "modeld/model.h"

namespace modeld {

// One backend's compiled form of a Plan (runner_cpu.cc, runner_opencl.cc, runner_cuda.cu).
class PlanExecutor {
 public:
  virtual ~PlanExecutor() = default;
  virtual void enqueue() = 0;  // queues every launch of the plan, in order
};

class ModelRunner {
 public:
  static std::unique_ptr<ModelRunner> create(std::shared_ptr<Device> device, Model model);
  ~ModelRunner();

  const Model &model() const { return model_; }
  Device &device() { return *device_; }
  size_t input_count() const { return model_.inputs.size(); }
  size_t output_count() const { return model_.outputs.size(); }
  const Value &input(size_t i) const { return model_.values.at(model_.inputs.at(i)); }
  const Value &output(size_t i) const { return model_.values.at(model_.outputs.at(i)); }
  // Index of the input/output with this name; throws std::out_of_range naming the known ones.
  size_t input_index(const std::string &name) const;
  size_t output_index(const std::string &name) const;

  const DeviceBuffer &input_buffer(size_t i) const;
  void set_input(size_t i, const float *data);  // shape_count(input(i).shape) floats

  // Queues the whole graph and waits for it. Returns the device time in ms.
  double run();
  // Queues the whole graph without waiting (device().finish() waits).
  void enqueue();
  void read_output(size_t i, float *dst);  // shape_count(output(i).shape) floats

  // Number of kernel launches per run (after fusion and aliasing).
  size_t launch_count() const { return launches_; }

 private:
  ModelRunner(std::shared_ptr<Device> device, Model model);
  void release_buffers() noexcept;

  std::shared_ptr<Device> device_;
  Model model_;
  std::vector<DeviceBuffer> buffers_;  // by storage value id
  std::vector<int> storage_;
  std::unique_ptr<PlanExecutor> executor_;
  size_t launches_ = 0;
};

struct Plan;
std::unique_ptr<PlanExecutor> make_cpu_executor(Device &device, const Plan &plan, const std::vector<DeviceBuffer> &buffers);
std::unique_ptr<PlanExecutor> make_opencl_executor(Device &device, const Plan &plan, const std::vector<DeviceBuffer> &buffers);
std::unique_ptr<PlanExecutor> make_cuda_executor(Device &device, const Plan &plan, const std::vector<DeviceBuffer> &buffers);

}  // namespace modeld
