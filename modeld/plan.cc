#include "modeld/plan.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace modeld {

const char *kernel_name(Kernel k) {
  switch (k) {
    case Kernel::kConv2d: return "conv2d";
    case Kernel::kConv2dX4: return "conv2d_x4";
    case Kernel::kActivation: return "activation";
    case Kernel::kBinary: return "binary";
    case Kernel::kConcatCopy: return "concat_copy";
    case Kernel::kPool2d: return "pool2d";
    case Kernel::kMatMul: return "matmul";
    case Kernel::kTranspose: return "transpose";
    case Kernel::kSoftmax: return "softmax";
  }
  return "?";
}

namespace {

int activation_of(Op op) {
  switch (op) {
    case Op::kRelu: return KP_ACT_RELU;
    case Op::kLeakyRelu: return KP_ACT_LEAKY_RELU;
    case Op::kSigmoid: return KP_ACT_SIGMOID;
    case Op::kTanh: return KP_ACT_TANH;
    case Op::kElu: return KP_ACT_ELU;
    default: return KP_ACT_NONE;
  }
}

// Row-major element strides of `s`.
std::vector<int> strides_of(const Shape &s) {
  std::vector<int> st(s.size());
  int acc = 1;
  for (int i = int(s.size()) - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

// Strides of `in` broadcast against an output of rank `rank` (0 where broadcast).
std::vector<int> broadcast_strides(const Shape &in, size_t rank) {
  std::vector<int> st = strides_of(in), out(rank, 0);
  size_t lead = rank - in.size();
  for (size_t i = 0; i < in.size(); i++) out[lead + i] = in[i] == 1 ? 0 : st[i];
  return out;
}

int index_mode(const Shape &in, const Shape &out) {
  if (shape_count(in) == 1) return KP_INDEX_SCALAR;
  if (shape_count(in) == shape_count(out)) return KP_INDEX_SAME;  // broadcasting never keeps the count
  return KP_INDEX_STRIDED;
}

int product(const Shape &s, size_t from, size_t to) {
  int n = 1;
  for (size_t i = from; i < to; i++) n *= s[i];
  return n;
}

class Planner {
 public:
  explicit Planner(const Model &m) : m_(m) {
    plan_.storage.resize(m.values.size());
    for (size_t i = 0; i < m.values.size(); i++) plan_.storage[i] = int(i);
    consumers_.assign(m.values.size(), 0);
    for (const Node &n : m.nodes)
      for (int v : n.inputs)
        if (v >= 0) consumers_[v]++;
    for (int v : m.outputs) consumers_[v] += 1000;  // a model output is never folded away
  }

  Plan run() {
    for (size_t i = 0; i < m_.nodes.size(); i++) {
      const Node &n = m_.nodes[i];
      if (fused_.count(i)) continue;
      plan_node(i, n);
    }
    return std::move(plan_);
  }

 private:
  const Shape &shape(int v) const { return m_.values[v].shape; }
  int store(int v) const { return v < 0 ? -1 : plan_.storage[v]; }

  Launch &launch(Kernel k, const Node &n, std::array<size_t, 3> range, std::vector<int> args) {
    Launch l;
    memset(&l.p, 0, sizeof(l.p));
    l.kernel = k;
    l.node = n.describe();
    l.range = range;
    for (int &a : args) a = store(a);
    l.args = std::move(args);
    plan_.launches.push_back(std::move(l));
    return plan_.launches.back();
  }

  // The activation node that is the only consumer of `v`, or -1.
  int sole_activation_consumer(size_t after, int v) const {
    if (consumers_[v] != 1) return -1;
    for (size_t j = after + 1; j < m_.nodes.size(); j++) {
      const Node &c = m_.nodes[j];
      for (int in : c.inputs) {
        if (in == v) return activation_of(c.op) != KP_ACT_NONE ? int(j) : -1;
      }
    }
    return -1;
  }

  void plan_node(size_t index, const Node &n) {
    int out = n.outputs[0];
    const Shape &os = shape(out);
    switch (n.op) {
      case Op::kConv: {
        const Shape &x = shape(n.inputs[0]), &w = shape(n.inputs[1]);
        ConvParams p{};
        p.n = x[0], p.c = x[1], p.h = x[2], p.w = x[3];
        p.m = w[0], p.oh = os[2], p.ow = os[3], p.kh = w[2], p.kw = w[3];
        p.sh = n.strides[0], p.sw = n.strides[1], p.pt = n.pads[0], p.pl = n.pads[1];
        p.dh = n.dilations[0], p.dw = n.dilations[1], p.group = n.group;
        int bias = n.inputs.size() > 2 ? n.inputs[2] : -1;
        p.has_bias = bias >= 0;
        p.act = KP_ACT_NONE;
        int act = sole_activation_consumer(index, out);
        if (act >= 0) {
          const Node &a = m_.nodes[act];
          p.act = activation_of(a.op);
          p.alpha = a.alpha;
          plan_.storage[out] = -1;
          out = a.outputs[0];
          fused_.insert(size_t(act));
        }
        // Blocks of four output channels pay off once a group has at least four.
        bool x4 = p.m / p.group >= 4;
        p.blocks = (p.m / p.group + 3) / 4;
        size_t z = x4 ? size_t(p.n) * p.group * p.blocks : size_t(p.n) * p.m;
        launch(x4 ? Kernel::kConv2dX4 : Kernel::kConv2d, n, {size_t(p.ow), size_t(p.oh), z},
               {n.inputs[0], n.inputs[1], bias, out})
            .p.conv = p;
        return;
      }
      case Op::kRelu: case Op::kLeakyRelu: case Op::kSigmoid: case Op::kTanh: case Op::kElu: {
        ActivationParams p{int(shape_count(os)), activation_of(n.op), n.alpha};
        launch(Kernel::kActivation, n, {size_t(p.count), 1, 1}, {n.inputs[0], out}).p.activation = p;
        return;
      }
      case Op::kAdd: case Op::kMul: {
        BinaryParams p{};
        p.count = int(shape_count(os));
        p.rank = int(os.size());
        p.op = n.op == Op::kAdd ? KP_BINARY_ADD : KP_BINARY_MUL;
        std::vector<int> sa = broadcast_strides(shape(n.inputs[0]), os.size());
        std::vector<int> sb = broadcast_strides(shape(n.inputs[1]), os.size());
        for (size_t d = 0; d < os.size(); d++) {
          p.shape[d] = os[d];
          p.stride_a[d] = sa[d];
          p.stride_b[d] = sb[d];
        }
        p.index_a = index_mode(shape(n.inputs[0]), os);
        p.index_b = index_mode(shape(n.inputs[1]), os);
        launch(Kernel::kBinary, n, {size_t(p.count), 1, 1}, {n.inputs[0], n.inputs[1], out}).p.binary = p;
        return;
      }
      case Op::kConcat: {
        int offset = 0;
        for (int in : n.inputs) {
          const Shape &s = shape(in);
          ConcatParams p{product(s, 0, n.axis), s[n.axis], os[n.axis], offset, product(s, n.axis + 1, s.size())};
          offset += s[n.axis];
          launch(Kernel::kConcatCopy, n, {size_t(p.outer) * p.axis_in * p.inner, 1, 1}, {in, out}).p.concat = p;
        }
        return;
      }
      case Op::kMaxPool: case Op::kAveragePool: case Op::kGlobalAveragePool: {
        const Shape &x = shape(n.inputs[0]);
        PoolParams p{};
        p.planes = x[0] * x[1], p.h = x[2], p.w = x[3], p.oh = os[2], p.ow = os[3];
        bool global = n.op == Op::kGlobalAveragePool;
        p.kh = global ? x[2] : n.kernel[0], p.kw = global ? x[3] : n.kernel[1];
        p.sh = global ? 1 : n.strides[0], p.sw = global ? 1 : n.strides[1];
        p.pt = global ? 0 : n.pads[0], p.pl = global ? 0 : n.pads[1];
        p.is_max = n.op == Op::kMaxPool;
        p.count_include_pad = n.count_include_pad;
        launch(Kernel::kPool2d, n, {size_t(p.ow), size_t(p.oh), size_t(p.planes)}, {n.inputs[0], out}).p.pool = p;
        return;
      }
      case Op::kGemm: return gemm(n, out);
      case Op::kMatMul: return matmul(n, out);
      case Op::kReshape: case Op::kFlatten:
        plan_.storage[out] = store(n.inputs[0]);
        return;
      case Op::kTranspose: {
        const Shape &x = shape(n.inputs[0]);
        std::vector<int> st = strides_of(x);
        TransposeParams p{};
        p.count = int(shape_count(os));
        p.rank = int(os.size());
        for (size_t d = 0; d < os.size(); d++) {
          p.out_shape[d] = os[d];
          p.in_stride[d] = st[n.perm[d]];
        }
        launch(Kernel::kTranspose, n, {size_t(p.count), 1, 1}, {n.inputs[0], out}).p.transpose = p;
        return;
      }
      case Op::kSoftmax: {
        SoftmaxParams p{product(os, 0, n.axis), os[n.axis], product(os, n.axis + 1, os.size())};
        launch(Kernel::kSoftmax, n, {size_t(p.outer) * p.inner, 1, 1}, {n.inputs[0], out}).p.softmax = p;
        return;
      }
    }
  }

  void gemm(const Node &n, int out) {
    const Shape &a = shape(n.inputs[0]), &b = shape(n.inputs[1]), &os = shape(out);
    MatMulParams p{};
    p.batch = 1;
    p.m = os[0], p.n = os[1];
    p.k = n.trans_a ? a[0] : a[1];
    p.sa_m = n.trans_a ? 1 : a[1], p.sa_k = n.trans_a ? a[1] : 1;
    p.sb_k = n.trans_b ? 1 : b[1], p.sb_n = n.trans_b ? b[1] : 1;
    p.alpha = n.alpha, p.beta = n.beta;
    int c = n.inputs.size() > 2 ? n.inputs[2] : -1;
    p.has_c = c >= 0;
    if (c >= 0) {
      std::vector<int> sc = broadcast_strides(shape(c), 2);
      p.sc_m = sc[0], p.sc_n = sc[1];
    }
    launch(Kernel::kMatMul, n, {size_t(p.n), size_t(p.m), 1}, {n.inputs[0], n.inputs[1], c, out}).p.matmul = p;
  }

  void matmul(const Node &n, int out) {
    Shape a = shape(n.inputs[0]), b = shape(n.inputs[1]);
    if (a.size() == 1) a.insert(a.begin(), 1);
    if (b.size() == 1) b.push_back(1);
    MatMulParams p{};
    p.m = a[a.size() - 2], p.k = a.back(), p.n = b.back();
    p.sa_m = p.k, p.sa_k = 1, p.sb_k = p.n, p.sb_n = 1;
    p.alpha = 1.0f;
    size_t batch_rank = std::max(a.size(), b.size()) - 2;
    Shape batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
    std::vector<int> sa = broadcast_strides(batch_a, batch_rank), sb = broadcast_strides(batch_b, batch_rank);
    p.batch = 1;
    p.batch_rank = int(batch_rank);
    for (size_t d = 0; d < batch_rank; d++) {
      size_t la = batch_rank - batch_a.size(), lb = batch_rank - batch_b.size();
      int da = d < la ? 1 : batch_a[d - la], db = d < lb ? 1 : batch_b[d - lb];
      p.batch_shape[d] = std::max(da, db);
      p.batch_stride_a[d] = sa[d] * p.m * p.k;
      p.batch_stride_b[d] = sb[d] * p.k * p.n;
      p.batch *= p.batch_shape[d];
    }
    launch(Kernel::kMatMul, n, {size_t(p.n), size_t(p.m), size_t(p.batch)}, {n.inputs[0], n.inputs[1], -1, out})
        .p.matmul = p;
  }

  const Model &m_;
  Plan plan_;
  std::vector<int> consumers_;
  std::set<size_t> fused_;
};

}  // namespace

Plan make_plan(const Model &model) { return Planner(model).run(); }

}  // namespace modeld
