// libFuzzer target model_file: the input is a compiled model file (.cmodel).
// parse_model() must refuse it with ModelError or return a model that the CPU
// backend plans and runs without touching memory outside its tensors, and
// whose runner gives every buffer back to the device (which lives across
// inputs). Models of more than kMaxValues floats are parsed and planned but
// not run (time).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "modeld/device.h"
#include "modeld/model.h"
#include "modeld/runner.h"

constexpr size_t kMaxValues = 1 << 20;

static void plan_and_run(const std::shared_ptr<modeld::Device> &cpu, modeld::Model model) {
  size_t floats = 0;
  for (const modeld::Value &v : model.values) floats += modeld::shape_count(v.shape);
  std::unique_ptr<modeld::ModelRunner> runner = modeld::ModelRunner::create(cpu, std::move(model));  // plans it
  if (floats > kMaxValues) return;
  for (size_t i = 0; i < runner->input_count(); i++) {
    std::vector<float> x(modeld::shape_count(runner->input(i).shape), 0.5f);
    runner->set_input(i, x.data());
  }
  runner->run();
  for (size_t i = 0; i < runner->output_count(); i++) {
    std::vector<float> y(modeld::shape_count(runner->output(i).shape));
    runner->read_output(i, y.data());
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::shared_ptr<modeld::Device> cpu = modeld::Device::open(modeld::Backend::kCpu);
  modeld::Model model;
  try {
    model = modeld::parse_model(data, size, "fuzzed");
  } catch (const modeld::ModelError &) {
    return 0;
  }
  plan_and_run(cpu, std::move(model));
  if (cpu->allocated_bytes() != 0) {
    fprintf(stderr, "model_file: the runner kept %zu bytes of device memory\n", cpu->allocated_bytes());
    abort();
  }
  return 0;
}
