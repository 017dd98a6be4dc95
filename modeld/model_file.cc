// Reads the compiled model format (model.capnp) into a Model.
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "modeld/model.capnp.h"
#include "modeld/model.h"

namespace modeld {
namespace {

[[noreturn]] void fail(const std::string &origin, const std::string &what) { throw ModelError(origin + ": " + what); }

Shape read_shape(const capnp::List<int64_t>::Reader &dims, const std::string &origin, const std::string &what) {
  Shape s;
  for (int64_t d : dims) {
    if (d <= 0 || d > std::numeric_limits<int32_t>::max()) {
      fail(origin, what + " has dimension " + std::to_string(d) + ", expected 1.." +
                       std::to_string(std::numeric_limits<int32_t>::max()));
    }
    s.push_back(int(d));
  }
  if (bounded_count(s) == 0) {
    fail(origin, what + " " + shape_string(s) + " has more than " + std::to_string(kMaxTensorElements) + " elements");
  }
  return s;
}

template <size_t N>
void read_ints(std::array<int, N> &out, const capnp::List<int32_t>::Reader &list, const Node &node,
               const char *field, const std::string &origin) {
  if (list.size() != N) {
    fail(origin, node.describe() + ": " + field + " has " + std::to_string(list.size()) + " entries, expected " +
                     std::to_string(N));
  }
  for (size_t i = 0; i < N; i++) out[i] = list[i];
}

class Reader {
 public:
  Reader(const std::string &origin) : origin_(origin) {}

  Model read(schema::Model::Reader m) {
    if (m.getFormatVersion() != kModelFormatVersion) {
      fail(origin_, "format version " + std::to_string(m.getFormatVersion()) + ", expected " +
                        std::to_string(kModelFormatVersion) + " (recompile the model with this modeld/compile_model)");
    }
    model_.producer = m.getProducer();
    for (auto t : m.getInputs()) {
      std::string what = "model input '" + std::string(t.getName()) + "'";
      model_.inputs.push_back(define(t.getName(), read_shape(t.getShape(), origin_, what), what));
    }
    for (auto t : m.getInitializers()) read_initializer(t);
    for (auto n : m.getNodes()) read_node(n);
    for (auto t : m.getOutputs()) {
      int id = model_.find(t.getName());
      if (id < 0) fail(origin_, "model output '" + std::string(t.getName()) + "' is not produced by any node");
      model_.outputs.push_back(id);
      declared_.emplace_back(id, read_shape(t.getShape(), origin_, "model output '" + std::string(t.getName()) + "'"));
    }
    if (model_.inputs.empty()) fail(origin_, "the model has no input");
    if (model_.outputs.empty()) fail(origin_, "the model has no output");
    validate_model(model_, origin_);
    for (auto &[id, shape] : declared_) {
      const Value &v = model_.values[id];
      if (!shape.empty() && shape != v.shape) {
        fail(origin_, "model output '" + v.name + "' is declared " + shape_string(shape) + " but the graph computes " +
                          shape_string(v.shape));
      }
    }
    return std::move(model_);
  }

 private:
  int define(const std::string &name, Shape shape, const std::string &what) {
    if (name.empty()) fail(origin_, what + " has an empty name");
    if (ids_.count(name)) fail(origin_, what + ": value '" + name + "' is defined twice");
    ids_[name] = int(model_.values.size());
    model_.values.push_back({name, std::move(shape), false, {}});
    return int(model_.values.size()) - 1;
  }

  void read_initializer(schema::Tensor::Reader t) {
    std::string what = "initializer '" + std::string(t.getName()) + "'";
    Shape shape = read_shape(t.getShape(), origin_, what);
    auto data = t.getData();
    size_t count = shape_count(shape);
    if (data.size() != count * sizeof(float)) {
      fail(origin_, what + " has " + std::to_string(data.size()) + " bytes of data, its shape " + shape_string(shape) +
                        " needs " + std::to_string(count * sizeof(float)));
    }
    int id = define(t.getName(), shape, what);
    Value &v = model_.values[id];
    v.constant = true;
    v.data.resize(count);
    memcpy(v.data.data(), data.begin(), data.size());
  }

  void read_node(schema::Node::Reader n) {
    Node node;
    node.name = n.getName();
    if (node.name.empty()) node.name = "#" + std::to_string(model_.nodes.size());
    node.op = read_op(n, node);
    for (auto in : n.getInputs()) {
      if (in.size() == 0) {
        node.inputs.push_back(-1);
        continue;
      }
      auto it = ids_.find(in);
      if (it == ids_.end()) {
        fail(origin_, node.describe() + ": input '" + std::string(in) +
                          "' is not a model input, an initializer or an output of an earlier node");
      }
      node.inputs.push_back(it->second);
    }
    for (auto out : n.getOutputs()) {
      node.outputs.push_back(define(out, {}, node.describe() + " output"));
    }
    model_.nodes.push_back(std::move(node));
  }

  Op read_op(schema::Node::Reader n, Node &node) {
    using W = schema::Node::Which;
    switch (n.which()) {
      case W::CONV: {
        node.op = Op::kConv;
        auto c = n.getConv();
        read_ints(node.strides, c.getStrides(), node, "strides", origin_);
        read_ints(node.pads, c.getPads(), node, "pads", origin_);
        read_ints(node.dilations, c.getDilations(), node, "dilations", origin_);
        node.group = c.getGroup();
        return Op::kConv;
      }
      case W::RELU: return Op::kRelu;
      case W::LEAKY_RELU: node.alpha = n.getLeakyRelu().getAlpha(); return Op::kLeakyRelu;
      case W::SIGMOID: return Op::kSigmoid;
      case W::TANH: return Op::kTanh;
      case W::ELU: node.alpha = n.getElu().getAlpha(); return Op::kElu;
      case W::ADD: return Op::kAdd;
      case W::MUL: return Op::kMul;
      case W::CONCAT: node.axis = n.getConcat().getAxis(); return Op::kConcat;
      case W::MAX_POOL:
      case W::AVERAGE_POOL: {
        bool max = n.which() == W::MAX_POOL;
        node.op = max ? Op::kMaxPool : Op::kAveragePool;
        auto p = max ? n.getMaxPool() : n.getAveragePool();
        read_ints(node.kernel, p.getKernel(), node, "kernel", origin_);
        read_ints(node.strides, p.getStrides(), node, "strides", origin_);
        read_ints(node.pads, p.getPads(), node, "pads", origin_);
        node.count_include_pad = p.getCountIncludePad();
        return node.op;
      }
      case W::GLOBAL_AVERAGE_POOL: return Op::kGlobalAveragePool;
      case W::GEMM: {
        auto g = n.getGemm();
        node.alpha = g.getAlpha();
        node.beta = g.getBeta();
        node.trans_a = g.getTransA();
        node.trans_b = g.getTransB();
        return Op::kGemm;
      }
      case W::MAT_MUL: return Op::kMatMul;
      case W::RESHAPE:
        for (int64_t d : n.getReshape().getShape()) node.reshape.push_back(d);
        return Op::kReshape;
      case W::FLATTEN: node.axis = n.getFlatten().getAxis(); return Op::kFlatten;
      case W::TRANSPOSE:
        for (int32_t p : n.getTranspose().getPerm()) node.perm.push_back(p);
        return Op::kTranspose;
      case W::SOFTMAX: node.axis = n.getSoftmax().getAxis(); return Op::kSoftmax;
    }
    fail(origin_, "node '" + node.name + "': unknown op #" + std::to_string(unsigned(n.which())) +
                      " (file written by a newer compile_model?)");
  }

  std::string origin_;
  Model model_;
  std::unordered_map<std::string, int> ids_;
  std::vector<std::pair<int, Shape>> declared_;
};

}  // namespace

Model parse_model(const void *data, size_t size, const std::string &origin) {
  if (size < 8 || size % 8) {
    fail(origin, "not a compiled model: " + std::to_string(size) +
                     " bytes, expected a Cap'n Proto message (a positive multiple of 8 bytes)");
  }
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(size / 8);
  memcpy(words.begin(), data, size);
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = size / 8 * 2 + 1024;
    capnp::FlatArrayMessageReader message(words, options);
    return Reader(origin).read(message.getRoot<schema::Model>());
  } catch (const kj::Exception &e) {
    fail(origin, "not a valid compiled model (Cap'n Proto: " + std::string(e.getDescription().cStr()) + ")");
  }
}

Model load_model(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, std::string("cannot open the model file: ") + strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string bytes = ss.str();
  return parse_model(bytes.data(), bytes.size(), path);
}

}  // namespace modeld
