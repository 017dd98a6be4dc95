#pragma once
// A loaded, validated model: values (inputs, weights, intermediates) and nodes
// in execution order, every shape known. load_model() reads the compiled
// format (model.capnp, written by modeld/compile_model) and checks everything a
// backend relies on, so the runners never see a bad graph.
//
// Errors: ModelError whose message names the file and, where it applies, the
// node (name and op) with what was expected and what was found: an unknown op,
// a missing input, wrong weight size, mismatched shapes.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace modeld {

struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Shape = std::vector<int>;

std::string shape_string(const Shape &s);  // "[1, 12, 64, 128]"
size_t shape_count(const Shape &s);
// The most elements a tensor may have: kernels index them with int, and a
// file asking for more is refused before anything is allocated.
constexpr size_t kMaxTensorElements = 0x7fffffff;
// The element count of `s`, or 0 when it exceeds kMaxTensorElements (no overflow).
size_t bounded_count(const Shape &s);
// The most bytes a model's tensors (inputs, weights, intermediates, outputs)
// may take together, counted before the planner shares any storage: a runner
// allocates them all at load (and gives them back when it goes), so this bounds
// the device memory one model file can claim, and a file asking for more is
// refused first with an error naming its size.
constexpr size_t kMaxModelBytes = size_t(1) << 30;

enum class Op {
  kConv, kRelu, kLeakyRelu, kSigmoid, kTanh, kElu, kAdd, kMul, kConcat, kMaxPool, kAveragePool,
  kGlobalAveragePool, kGemm, kMatMul, kReshape, kFlatten, kTranspose, kSoftmax,
};
const char *op_name(Op op);  // ONNX spelling: "Conv", "LeakyRelu", ...

struct Value {
  std::string name;
  Shape shape;
  bool constant = false;
  std::vector<float> data;  // constants only
};

struct Node {
  std::string name;
  Op op = Op::kRelu;
  std::vector<int> inputs;   // value ids, -1 for an omitted optional input
  std::vector<int> outputs;  // value ids
  // Op parameters; each op reads only its own.
  std::array<int, 2> kernel{1, 1}, strides{1, 1}, dilations{1, 1};
  std::array<int, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
  int group = 1;
  int axis = 0;
  float alpha = 0.0f, beta = 0.0f;
  bool trans_a = false, trans_b = false, count_include_pad = false;
  std::vector<int64_t> reshape;  // Reshape target as written (0 and -1 allowed)
  std::vector<int> perm;

  std::string describe() const;  // "node 'conv1' (Conv)"
};

struct Model {
  std::string producer;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs, outputs;  // value ids

  int find(const std::string &value_name) const;  // -1 if absent
};

constexpr uint32_t kModelFormatVersion = 1;

// Reads and validates a compiled model file / bytes. `origin` names it in errors.
Model load_model(const std::string &path);
Model parse_model(const void *data, size_t size, const std::string &origin);

// Checks a model assembled in memory (parse_model calls it): ids in range,
// inputs defined before use, op parameters sane, shapes inferred for every
// value and compared with what the file declares.
void validate_model(Model &model, const std::string &origin);

}  // namespace modeld
