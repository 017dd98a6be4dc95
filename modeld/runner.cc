#include "modeld/runner.h"

#include "modeld/plan.h"

namespace modeld {

std::unique_ptr<ModelRunner> ModelRunner::create(std::shared_ptr<Device> device, Model model) {
  return std::unique_ptr<ModelRunner>(new ModelRunner(std::move(device), std::move(model)));
}

ModelRunner::ModelRunner(std::shared_ptr<Device> device, Model model)
    : device_(std::move(device)), model_(std::move(model)) {
  Plan plan = make_plan(model_);
  storage_ = plan.storage;
  buffers_.resize(model_.values.size());
  try {
    for (size_t v = 0; v < model_.values.size(); v++) {
      if (storage_[v] != int(v)) continue;  // an alias or fused away
      const Value &value = model_.values[v];
      buffers_[v] = device_->alloc(shape_count(value.shape) * sizeof(float));
      if (value.constant) device_->upload(buffers_[v], 0, value.data.data(), value.data.size() * sizeof(float));
    }
    switch (device_->backend()) {
      case Backend::kCpu: executor_ = make_cpu_executor(*device_, plan, buffers_); break;
      case Backend::kOpenCL: executor_ = make_opencl_executor(*device_, plan, buffers_); break;
      case Backend::kCuda: executor_ = make_cuda_executor(*device_, plan, buffers_); break;
    }
    device_->finish();
  } catch (...) {
    release_buffers();
    throw;
  }
  launches_ = plan.launches.size();
}

ModelRunner::~ModelRunner() { release_buffers(); }

// Never throws: it runs in the destructor and on create()'s error path, where
// a driver error here must not replace the one being reported.
void ModelRunner::release_buffers() noexcept {
  try {
    device_->finish();
    executor_.reset();  // its kernels refer to the buffers
    for (DeviceBuffer &b : buffers_) {
      if (b.handle) device_->release(b);
    }
  } catch (...) {
  }
}

static size_t index_of(const Model &m, const std::vector<int> &ids, const std::string &name, const char *what) {
  std::string known;
  for (size_t i = 0; i < ids.size(); i++) {
    if (m.values[ids[i]].name == name) return i;
    known += (i ? ", '" : "'") + m.values[ids[i]].name + "'";
  }
  throw std::out_of_range(std::string("model has no ") + what + " '" + name + "' (it has " + known + ")");
}

size_t ModelRunner::input_index(const std::string &name) const { return index_of(model_, model_.inputs, name, "input"); }
size_t ModelRunner::output_index(const std::string &name) const { return index_of(model_, model_.outputs, name, "output"); }

const DeviceBuffer &ModelRunner::input_buffer(size_t i) const { return buffers_[storage_[model_.inputs.at(i)]]; }

void ModelRunner::set_input(size_t i, const float *data) {
  const Value &v = input(i);
  device_->upload(input_buffer(i), 0, data, shape_count(v.shape) * sizeof(float));
}

void ModelRunner::enqueue() { executor_->enqueue(); }

double ModelRunner::run() {
  device_->begin_timing();
  executor_->enqueue();
  return device_->end_timing_ms();
}

void ModelRunner::read_output(size_t i, float *dst) {
  int v = model_.outputs.at(i);
  device_->download(buffers_[storage_[v]], 0, dst, shape_count(model_.values[v].shape) * sizeof(float));
}

}  // namespace modeld
