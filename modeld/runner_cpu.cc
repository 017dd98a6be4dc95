// The cpu executor: the op kernels as plain C++ loops over the same parameter
// blocks the OpenCL and CUDA kernels get. Convolution is written as a sum of
// shifted rows (weight × input row added to the output row) so the inner loop
// is a contiguous multiply-add the compiler vectorizes.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "modeld/plan.h"
#include "modeld/runner.h"

namespace modeld {
namespace {

float activate(float v, int act, float alpha) {
  switch (act) {
    case KP_ACT_RELU: return std::max(v, 0.0f);
    case KP_ACT_LEAKY_RELU: return v >= 0.0f ? v : alpha * v;
    case KP_ACT_SIGMOID: return 1.0f / (1.0f + std::exp(-v));
    case KP_ACT_TANH: return std::tanh(v);
    case KP_ACT_ELU: return v >= 0.0f ? v : alpha * (std::exp(v) - 1.0f);
    default: return v;
  }
}

void conv2d(const float *x, const float *w, const float *bias, float *y, const ConvParams &p) {
  const int cg = p.c / p.group, mg = p.m / p.group;
  const size_t in_plane = size_t(p.h) * p.w, out_plane = size_t(p.oh) * p.ow;
  for (int n = 0; n < p.n; n++) {
    for (int m = 0; m < p.m; m++) {
      float *yo = y + (size_t(n) * p.m + m) * out_plane;
      std::fill(yo, yo + out_plane, p.has_bias ? bias[m] : 0.0f);
      const int g = m / mg;
      for (int ci = 0; ci < cg; ci++) {
        const float *xc = x + (size_t(n) * p.c + size_t(g) * cg + ci) * in_plane;
        const float *wc = w + (size_t(m) * cg + ci) * p.kh * p.kw;
        for (int kx = 0; kx < p.kw; kx++) {
          // Output columns whose input column ox * sw + off lies inside the row.
          const int off = kx * p.dw - p.pl;
          const int lo = off >= 0 ? 0 : (-off + p.sw - 1) / p.sw;
          const int hi = p.w - 1 - off < 0 ? 0 : std::min(p.ow, (p.w - 1 - off) / p.sw + 1);
          if (lo >= hi) continue;
          for (int ky = 0; ky < p.kh; ky++) {
            const float wv = wc[ky * p.kw + kx];
            for (int oy = 0; oy < p.oh; oy++) {
              const int iy = oy * p.sh - p.pt + ky * p.dh;
              if (iy < 0 || iy >= p.h) continue;
              const float *xr = xc + size_t(iy) * p.w + off;
              float *yr = yo + size_t(oy) * p.ow;
              if (p.sw == 1) {
                for (int ox = lo; ox < hi; ox++) yr[ox] += wv * xr[ox];
              } else {
                for (int ox = lo; ox < hi; ox++) yr[ox] += wv * xr[ox * p.sw];
              }
            }
          }
        }
      }
      if (p.act != KP_ACT_NONE) {
        for (size_t i = 0; i < out_plane; i++) yo[i] = activate(yo[i], p.act, p.alpha);
      }
    }
  }
}

void activation(const float *x, float *y, const ActivationParams &p) {
  for (int i = 0; i < p.count; i++) y[i] = activate(x[i], p.act, p.alpha);
}

void binary(const float *a, const float *b, float *y, const BinaryParams &p) {
  if (p.index_a == KP_INDEX_SAME && p.index_b != KP_INDEX_STRIDED) {
    const int sb = p.index_b == KP_INDEX_SAME;
    if (p.op == KP_BINARY_ADD) {
      for (int i = 0; i < p.count; i++) y[i] = a[i] + b[i * sb];
    } else {
      for (int i = 0; i < p.count; i++) y[i] = a[i] * b[i * sb];
    }
    return;
  }
  for (int i = 0; i < p.count; i++) {
    int rest = i, ia = 0, ib = 0;
    for (int d = p.rank - 1; d >= 0; d--) {
      int c = rest % p.shape[d];
      rest /= p.shape[d];
      ia += c * p.stride_a[d];
      ib += c * p.stride_b[d];
    }
    y[i] = p.op == KP_BINARY_ADD ? a[ia] + b[ib] : a[ia] * b[ib];
  }
}

void concat_copy(const float *x, float *y, const ConcatParams &p) {
  const size_t block = size_t(p.axis_in) * p.inner;
  for (int o = 0; o < p.outer; o++) {
    std::copy(x + o * block, x + (o + 1) * block, y + (size_t(o) * p.axis_out + p.axis_offset) * p.inner);
  }
}

void pool2d(const float *x, float *y, const PoolParams &p) {
  for (int c = 0; c < p.planes; c++) {
    const float *xc = x + size_t(c) * p.h * p.w;
    for (int oy = 0; oy < p.oh; oy++) {
      for (int ox = 0; ox < p.ow; ox++) {
        float acc = p.is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
        int inside = 0;
        for (int ky = 0; ky < p.kh; ky++) {
          int iy = oy * p.sh - p.pt + ky;
          if (iy < 0 || iy >= p.h) continue;
          for (int kx = 0; kx < p.kw; kx++) {
            int ix = ox * p.sw - p.pl + kx;
            if (ix < 0 || ix >= p.w) continue;
            float v = xc[iy * p.w + ix];
            acc = p.is_max ? std::max(acc, v) : acc + v;
            inside++;
          }
        }
        if (!p.is_max) acc /= float(p.count_include_pad ? p.kh * p.kw : inside);
        y[(size_t(c) * p.oh + oy) * p.ow + ox] = acc;
      }
    }
  }
}

void matmul(const float *a, const float *b, const float *c, float *y, const MatMulParams &p) {
  for (int bi = 0; bi < p.batch; bi++) {
    int rest = bi, oa = 0, ob = 0;
    for (int d = p.batch_rank - 1; d >= 0; d--) {
      int q = rest % p.batch_shape[d];
      rest /= p.batch_shape[d];
      oa += q * p.batch_stride_a[d];
      ob += q * p.batch_stride_b[d];
    }
    for (int i = 0; i < p.m; i++) {
      for (int j = 0; j < p.n; j++) {
        float acc = 0.0f;
        for (int k = 0; k < p.k; k++) acc += a[oa + i * p.sa_m + k * p.sa_k] * b[ob + k * p.sb_k + j * p.sb_n];
        acc *= p.alpha;
        if (p.has_c) acc += p.beta * c[i * p.sc_m + j * p.sc_n];
        y[(size_t(bi) * p.m + i) * p.n + j] = acc;
      }
    }
  }
}

void transpose(const float *x, float *y, const TransposeParams &p) {
  for (int i = 0; i < p.count; i++) {
    int rest = i, src = 0;
    for (int d = p.rank - 1; d >= 0; d--) {
      src += (rest % p.out_shape[d]) * p.in_stride[d];
      rest /= p.out_shape[d];
    }
    y[i] = x[src];
  }
}

void softmax(const float *x, float *y, const SoftmaxParams &p) {
  for (int o = 0; o < p.outer; o++) {
    for (int in = 0; in < p.inner; in++) {
      const size_t base = size_t(o) * p.axis * p.inner + in;
      float mx = -std::numeric_limits<float>::infinity();
      for (int a = 0; a < p.axis; a++) mx = std::max(mx, x[base + size_t(a) * p.inner]);
      float sum = 0.0f;
      for (int a = 0; a < p.axis; a++) sum += std::exp(x[base + size_t(a) * p.inner] - mx);
      for (int a = 0; a < p.axis; a++) y[base + size_t(a) * p.inner] = std::exp(x[base + size_t(a) * p.inner] - mx) / sum;
    }
  }
}

class CpuExecutor : public PlanExecutor {
 public:
  CpuExecutor(const Plan &plan, const std::vector<DeviceBuffer> &buffers) {
    for (const Launch &l : plan.launches) {
      std::vector<float *> a;
      for (int v : l.args) a.push_back(v < 0 ? nullptr : static_cast<float *>(buffers[v].handle));
      steps_.push_back(bind(l, a));
    }
  }
  void enqueue() override {
    for (auto &s : steps_) s();
  }

 private:
  static std::function<void()> bind(const Launch &l, const std::vector<float *> &a) {
    switch (l.kernel) {
      case Kernel::kConv2d:
      case Kernel::kConv2dX4: return [a, p = l.p.conv] { conv2d(a[0], a[1], a[2], a[3], p); };
      case Kernel::kActivation: return [a, p = l.p.activation] { activation(a[0], a[1], p); };
      case Kernel::kBinary: return [a, p = l.p.binary] { binary(a[0], a[1], a[2], p); };
      case Kernel::kConcatCopy: return [a, p = l.p.concat] { concat_copy(a[0], a[1], p); };
      case Kernel::kPool2d: return [a, p = l.p.pool] { pool2d(a[0], a[1], p); };
      case Kernel::kMatMul: return [a, p = l.p.matmul] { matmul(a[0], a[1], a[2], a[3], p); };
      case Kernel::kTranspose: return [a, p = l.p.transpose] { transpose(a[0], a[1], p); };
      case Kernel::kSoftmax: return [a, p = l.p.softmax] { softmax(a[0], a[1], p); };
    }
    throw ModelError(l.node + ": no cpu kernel");
  }

  std::vector<std::function<void()>> steps_;
};

}  // namespace

std::unique_ptr<PlanExecutor> make_cpu_executor(Device &, const Plan &plan, const std::vector<DeviceBuffer> &buffers) {
  return std::make_unique<CpuExecutor>(plan, buffers);
}

}  // namespace modeld
