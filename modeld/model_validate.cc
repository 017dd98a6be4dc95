// Model validation and shape inference: everything the runners rely on is
// checked here, once, at load time.
#include <algorithm>
#include <limits>
#include <numeric>

#include "modeld/kernels/kernel_params.h"
#include "modeld/model.h"

namespace modeld {

std::string shape_string(const Shape &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

size_t shape_count(const Shape &s) {
  size_t n = 1;
  for (int d : s) n *= size_t(d);
  return n;
}

size_t bounded_count(const Shape &s) {
  size_t n = 1;
  for (int d : s) {
    if (d < 0 || (d > 0 && n > kMaxTensorElements / size_t(d))) return 0;
    n *= size_t(d);
  }
  return n;
}

const char *op_name(Op op) {
  switch (op) {
    case Op::kConv: return "Conv";
    case Op::kRelu: return "Relu";
    case Op::kLeakyRelu: return "LeakyRelu";
    case Op::kSigmoid: return "Sigmoid";
    case Op::kTanh: return "Tanh";
    case Op::kElu: return "Elu";
    case Op::kAdd: return "Add";
    case Op::kMul: return "Mul";
    case Op::kConcat: return "Concat";
    case Op::kMaxPool: return "MaxPool";
    case Op::kAveragePool: return "AveragePool";
    case Op::kGlobalAveragePool: return "GlobalAveragePool";
    case Op::kGemm: return "Gemm";
    case Op::kMatMul: return "MatMul";
    case Op::kReshape: return "Reshape";
    case Op::kFlatten: return "Flatten";
    case Op::kTranspose: return "Transpose";
    case Op::kSoftmax: return "Softmax";
  }
  return "?";
}

std::string Node::describe() const { return "node '" + name + "' (" + op_name(op) + ")"; }

int Model::find(const std::string &value_name) const {
  for (size_t i = 0; i < values.size(); i++) {
    if (values[i].name == value_name) return int(i);
  }
  return -1;
}

namespace {

class Checker {
 public:
  Checker(Model &m, const std::string &origin) : m_(m), origin_(origin) {}

  void run() {
    for (const Value &v : m_.values) {  // the inputs and weights; the rest get their shapes below
      if (!v.shape.empty()) count_bytes(v.shape, "'" + v.name + "' " + shape_string(v.shape));
    }
    for (Node &n : m_.nodes) {
      node_ = &n;
      infer(n);
    }
    for (int id : m_.outputs) {
      if (m_.values[id].shape.empty()) throw ModelError(origin_ + ": model output '" + m_.values[id].name + "' has no shape");
    }
  }

 private:
  [[noreturn]] void fail(const std::string &what) const {
    throw ModelError(origin_ + ": " + node_->describe() + ": " + what);
  }
  void expect(bool ok, const std::string &what) const {
    if (!ok) fail(what);
  }

  const Shape &in(size_t i) const { return m_.values[node_->inputs[i]].shape; }
  const Value &in_value(size_t i) const { return m_.values[node_->inputs[i]]; }
  bool has_in(size_t i) const { return i < node_->inputs.size() && node_->inputs[i] >= 0; }

  void arity(size_t min_in, size_t max_in, size_t outs) const {
    size_t n = node_->inputs.size();
    expect(n >= min_in && n <= max_in,
           "has " + std::to_string(n) + " inputs, expected " +
               (min_in == max_in ? std::to_string(min_in) : std::to_string(min_in) + ".." + std::to_string(max_in)));
    for (size_t i = 0; i < min_in; i++) expect(node_->inputs[i] >= 0, "input " + std::to_string(i) + " is required");
    expect(node_->outputs.size() == outs,
           "has " + std::to_string(node_->outputs.size()) + " outputs, expected " + std::to_string(outs));
  }

  void rank(size_t i, size_t lo, size_t hi, const char *what) const {
    size_t r = in(i).size();
    expect(r >= lo && r <= hi, std::string(what) + " '" + in_value(i).name + "' has shape " + shape_string(in(i)) +
                                   ", expected rank " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi)));
  }

  void set_output(Shape s) {
    for (int d : s) expect(d >= 1, "computes output shape " + shape_string(s) + " with an empty dimension");
    expect(bounded_count(s) > 0, "output " + shape_string(s) + " has more than " + std::to_string(kMaxTensorElements) + " elements");
    count_bytes(s, node_->describe() + ": output " + shape_string(s));
    m_.values[node_->outputs[0]].shape = std::move(s);
  }

  // Adds a tensor of shape `s` (at most kMaxTensorElements) to the model's total.
  void count_bytes(const Shape &s, const std::string &what) {
    bytes_ += bounded_count(s) * sizeof(float);
    if (bytes_ > kMaxModelBytes) {
      throw ModelError(origin_ + ": " + what + " brings the model's tensors to " + std::to_string(bytes_ >> 20) +
                       " MiB, more than the " + std::to_string(kMaxModelBytes >> 20) + " MiB a model may take");
    }
  }

  // Output size of a sliding window, in 64 bits: pads and dilations near
  // INT32_MAX must not wrap around.
  int64_t window_out(int size, int pad_a, int pad_b, int kernel, int stride, int dilation, const char *dim) const {
    int64_t padded = int64_t(size) + pad_a + pad_b, span = int64_t(dilation) * (kernel - 1) + 1;
    expect(padded >= span, std::string(dim) + ": window of " + std::to_string(span) +
                               " does not fit the padded input of " + std::to_string(padded));
    return (padded - span) / stride + 1;
  }

  // An output shape [n, c, h, w] whose h and w come from window_out().
  void set_window_output(int n, int c, int64_t h, int64_t w) {
    expect(h <= kMaxTensorElements && w <= kMaxTensorElements, "output [" + std::to_string(n) + ", " + std::to_string(c) + ", " +
                                                                   std::to_string(h) + ", " + std::to_string(w) + "] is too large");
    set_output({n, c, int(h), int(w)});
  }

  Shape broadcast(const Shape &a, const Shape &b) const {
    size_t r = std::max(a.size(), b.size());
    Shape out(r);
    for (size_t i = 0; i < r; i++) {
      int da = i < r - a.size() ? 1 : a[i - (r - a.size())];
      int db = i < r - b.size() ? 1 : b[i - (r - b.size())];
      expect(da == db || da == 1 || db == 1,
             "cannot broadcast " + shape_string(a) + " with " + shape_string(b) + " (dimension " + std::to_string(i) + ")");
      out[i] = std::max(da, db);
    }
    return out;
  }

  void infer(Node &n) {
    switch (n.op) {
      case Op::kConv: return conv(n);
      case Op::kRelu: case Op::kLeakyRelu: case Op::kSigmoid: case Op::kTanh: case Op::kElu:
        arity(1, 1, 1);
        return set_output(in(0));
      case Op::kAdd: case Op::kMul: {
        arity(2, 2, 1);
        Shape s = broadcast(in(0), in(1));
        expect(s.size() <= KP_MAX_RANK, "rank " + std::to_string(s.size()) + " exceeds " + std::to_string(KP_MAX_RANK));
        return set_output(s);
      }
      case Op::kConcat: return concat(n);
      case Op::kMaxPool: case Op::kAveragePool: return pool(n);
      case Op::kGlobalAveragePool:
        arity(1, 1, 1);
        rank(0, 4, 4, "input");
        return set_output({in(0)[0], in(0)[1], 1, 1});
      case Op::kGemm: return gemm(n);
      case Op::kMatMul: return matmul(n);
      case Op::kReshape: return reshape(n);
      case Op::kFlatten: {
        arity(1, 1, 1);
        const Shape &s = in(0);
        expect(n.axis >= 0 && size_t(n.axis) <= s.size(),
               "axis " + std::to_string(n.axis) + " outside 0.." + std::to_string(s.size()) + " for input " + shape_string(s));
        Shape lo(s.begin(), s.begin() + n.axis), hi(s.begin() + n.axis, s.end());
        return set_output({int(shape_count(lo)), int(shape_count(hi))});
      }
      case Op::kTranspose: return transpose(n);
      case Op::kSoftmax:
        arity(1, 1, 1);
        expect(n.axis >= 0 && size_t(n.axis) < in(0).size(),
               "axis " + std::to_string(n.axis) + " outside 0.." + std::to_string(int(in(0).size()) - 1) + " for input " + shape_string(in(0)));
        return set_output(in(0));
    }
    fail("unsupported op");
  }

  void conv(Node &n) {
    arity(2, 3, 1);
    rank(0, 4, 4, "input");
    rank(1, 4, 4, "weight");
    const Shape &x = in(0), &w = in(1);
    expect(n.group >= 1, "group " + std::to_string(n.group) + ", expected >= 1");
    for (int i = 0; i < 2; i++) {
      expect(n.strides[i] >= 1 && n.dilations[i] >= 1, "strides and dilations must be >= 1");
    }
    for (int p : n.pads) expect(p >= 0, "pads must be >= 0");
    expect(x[1] % n.group == 0 && w[0] % n.group == 0,
           "input channels " + std::to_string(x[1]) + " and output channels " + std::to_string(w[0]) +
               " must be multiples of group " + std::to_string(n.group));
    expect(int64_t(w[1]) * n.group == x[1], "weight '" + in_value(1).name + "' " + shape_string(w) + " expects " +
                                       std::to_string(int64_t(w[1]) * n.group) + " input channels, input '" + in_value(0).name +
                                       "' " + shape_string(x) + " has " + std::to_string(x[1]));
    if (has_in(2)) {
      expect(in(2) == Shape{w[0]}, "bias '" + in_value(2).name + "' has shape " + shape_string(in(2)) + ", expected [" +
                                       std::to_string(w[0]) + "]");
    }
    n.kernel = {w[2], w[3]};
    int64_t oh = window_out(x[2], n.pads[0], n.pads[2], w[2], n.strides[0], n.dilations[0], "height");
    int64_t ow = window_out(x[3], n.pads[1], n.pads[3], w[3], n.strides[1], n.dilations[1], "width");
    set_window_output(x[0], w[0], oh, ow);
  }

  void pool(Node &n) {
    arity(1, 1, 1);
    rank(0, 4, 4, "input");
    const Shape &x = in(0);
    for (int i = 0; i < 2; i++) {
      expect(n.kernel[i] >= 1 && n.strides[i] >= 1, "kernel and strides must be >= 1");
      expect(n.pads[i] >= 0 && n.pads[i + 2] >= 0 && n.pads[i] < n.kernel[i] && n.pads[i + 2] < n.kernel[i],
             "pads " + std::to_string(n.pads[i]) + "/" + std::to_string(n.pads[i + 2]) +
                 " must be >= 0 and smaller than the kernel " + std::to_string(n.kernel[i]));
    }
    int64_t oh = window_out(x[2], n.pads[0], n.pads[2], n.kernel[0], n.strides[0], 1, "height");
    int64_t ow = window_out(x[3], n.pads[1], n.pads[3], n.kernel[1], n.strides[1], 1, "width");
    set_window_output(x[0], x[1], oh, ow);
  }

  void concat(Node &n) {
    expect(!n.inputs.empty(), "has no inputs");
    arity(n.inputs.size(), n.inputs.size(), 1);
    const Shape &first = in(0);
    expect(n.axis >= 0 && size_t(n.axis) < first.size(),
           "axis " + std::to_string(n.axis) + " outside 0.." + std::to_string(int(first.size()) - 1));
    Shape out = first;
    int64_t joined = 0;
    for (size_t i = 0; i < n.inputs.size(); i++) {
      Shape s = in(i);
      bool same = s.size() == first.size();
      for (size_t d = 0; same && d < s.size(); d++) same = int(d) == n.axis || s[d] == first[d];
      expect(same, "input '" + in_value(i).name + "' " + shape_string(s) + " does not match " + shape_string(first) +
                       " outside axis " + std::to_string(n.axis));
      joined += s[n.axis];
    }
    expect(joined <= int64_t(kMaxTensorElements), "joins " + std::to_string(joined) + " along axis " + std::to_string(n.axis));
    out[n.axis] = int(joined);
    set_output(out);
  }

  void gemm(Node &n) {
    arity(2, 3, 1);
    rank(0, 2, 2, "A");
    rank(1, 2, 2, "B");
    int m = n.trans_a ? in(0)[1] : in(0)[0], ka = n.trans_a ? in(0)[0] : in(0)[1];
    int kb = n.trans_b ? in(1)[1] : in(1)[0], cols = n.trans_b ? in(1)[0] : in(1)[1];
    expect(ka == kb, "A " + shape_string(in(0)) + (n.trans_a ? " (transposed)" : "") + " and B " + shape_string(in(1)) +
                         (n.trans_b ? " (transposed)" : "") + " disagree on K: " + std::to_string(ka) + " vs " + std::to_string(kb));
    if (has_in(2)) {
      rank(2, 1, 2, "C");
      Shape c = in(2);
      Shape b = broadcast(c, {m, cols});
      expect(b == Shape({m, cols}), "C " + shape_string(c) + " does not broadcast to [" + std::to_string(m) + ", " +
                                        std::to_string(cols) + "]");
    }
    set_output({m, cols});
  }

  void matmul(Node &n) {
    arity(2, 2, 1);
    rank(0, 1, KP_MAX_BATCH_RANK + 2, "A");
    rank(1, 1, KP_MAX_BATCH_RANK + 2, "B");
    Shape a = in(0), b = in(1);
    bool a_vec = a.size() == 1, b_vec = b.size() == 1;
    if (a_vec) a.insert(a.begin(), 1);
    if (b_vec) b.push_back(1);
    expect(a.back() == b[b.size() - 2], "A " + shape_string(in(0)) + " and B " + shape_string(in(1)) + " disagree on K: " +
                                            std::to_string(a.back()) + " vs " + std::to_string(b[b.size() - 2]));
    Shape batch = broadcast(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
    Shape out = batch;
    if (!a_vec) out.push_back(a[a.size() - 2]);
    if (!b_vec) out.push_back(b.back());
    if (out.empty()) out.push_back(1);
    set_output(out);
  }

  void reshape(Node &n) {
    arity(1, 1, 1);
    const Shape &s = in(0);
    Shape out;
    int infer_at = -1;
    size_t known = 1;
    for (size_t i = 0; i < n.reshape.size(); i++) {
      int64_t d = n.reshape[i];
      if (d == -1) {
        expect(infer_at < 0, "target shape has more than one -1");
        infer_at = int(i);
        out.push_back(1);
        continue;
      }
      if (d == 0) {
        expect(i < s.size(), "target dimension " + std::to_string(i) + " is 0 (copy) but the input " + shape_string(s) + " has no such dimension");
        d = s[i];
      }
      expect(d >= 1 && d <= std::numeric_limits<int32_t>::max(), "target dimension " + std::to_string(n.reshape[i]) + " is invalid");
      out.push_back(int(d));
      known *= size_t(d);
      expect(known <= kMaxTensorElements, "target shape " + shape_string(out) + "... has more than " +
                                              std::to_string(kMaxTensorElements) + " elements");
    }
    size_t count = shape_count(s);
    if (infer_at >= 0) {
      expect(known > 0 && count % known == 0, "cannot infer -1: " + std::to_string(count) + " elements do not divide by " + std::to_string(known));
      out[infer_at] = int(count / known);
    }
    expect(shape_count(out) == count, "cannot reshape " + shape_string(s) + " (" + std::to_string(count) +
                                          " elements) to " + shape_string(out) + " (" + std::to_string(shape_count(out)) + ")");
    set_output(out);
  }

  void transpose(Node &n) {
    arity(1, 1, 1);
    const Shape &s = in(0);
    expect(s.size() <= KP_MAX_RANK, "rank " + std::to_string(s.size()) + " exceeds " + std::to_string(KP_MAX_RANK));
    std::vector<int> sorted = n.perm;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> iota(s.size());
    std::iota(iota.begin(), iota.end(), 0);
    expect(sorted == iota, "perm is not a permutation of 0.." + std::to_string(int(s.size()) - 1));
    Shape out;
    for (int p : n.perm) out.push_back(s[p]);
    set_output(out);
  }

  Model &m_;
  size_t bytes_ = 0;  // of every tensor shaped so far
  const std::string &origin_;
  const Node *node_ = nullptr;
};

}  // namespace

void validate_model(Model &model, const std::string &origin) { Checker(model, origin).run(); }

}  // namespace modeld
