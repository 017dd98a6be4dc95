// The reference frame transform: plain C++, one output pixel at a time, written
// for clarity. The OpenCL and CUDA kernels are tested against it.
#include <algorithm>
#include <cmath>

#include "modeld/transform.h"

namespace modeld {
namespace {

// Bilinear sample of an 8-bit plane (`step` bytes between pixels) at (x, y),
// edges replicated; a NaN coordinate counts as -1 (outside, top/left).
float sample(const uint8_t *plane, int stride, int step, int w, int h, float x, float y) {
  x = std::isnan(x) ? -1.0f : std::clamp(x, -1.0f, float(w));
  y = std::isnan(y) ? -1.0f : std::clamp(y, -1.0f, float(h));
  float fx = std::floor(x), fy = std::floor(y);
  float ax = x - fx, ay = y - fy;
  int x0 = std::clamp(int(fx), 0, w - 1), x1 = std::clamp(int(fx) + 1, 0, w - 1);
  int y0 = std::clamp(int(fy), 0, h - 1), y1 = std::clamp(int(fy) + 1, 0, h - 1);
  auto at = [&](int px, int py) { return float(plane[size_t(py) * stride + size_t(px) * step]); };
  float top = at(x0, y0) + ax * (at(x1, y0) - at(x0, y0));
  float bottom = at(x0, y1) + ax * (at(x1, y1) - at(x0, y1));
  return top + ay * (bottom - top);
}

// Homogeneous projection of (x, y) through m.
void project(const float *m, float x, float y, float &sx, float &sy) {
  float r = 1.0f / (m[6] * x + m[7] * y + m[8]);
  sx = (m[0] * x + m[1] * y + m[2]) * r;
  sy = (m[3] * x + m[4] * y + m[5]) * r;
}

// Values are >= 0, so this rounds half up.
float round_pixel(float v) { return std::floor(v + 0.5f); }

class CpuTransform : public FrameTransform {
 public:
  CpuTransform(std::shared_ptr<Device> device, int out_w, int out_h)
      : FrameTransform(std::move(device), out_w, out_h) {}

 protected:
  void warp_host(const Frame &f, const WarpParams &m, const DeviceBuffer &dst, const WarpGeometry &g) override {
    warp(f.data, g, m, static_cast<float *>(dst.handle));
  }
  void warp_device(const DeviceBuffer &src, const WarpParams &m, const DeviceBuffer &dst,
                   const WarpGeometry &g) override {
    warp(static_cast<const uint8_t *>(src.handle), g, m, static_cast<float *>(dst.handle));
  }

 private:
  static void warp(const uint8_t *data, const WarpGeometry &g, const WarpParams &m, float *dst) {
    const size_t plane = size_t(g.out_w2) * g.out_h2;
    float *out = dst + g.out_offset;
    if (g.history_offset >= 0) std::copy(out, out + 6 * plane, dst + g.history_offset);
    const uint8_t *u = data + g.u_offset, *v = data + g.v_offset;
    for (int y = 0; y < g.out_h2; y++) {
      for (int x = 0; x < g.out_w2; x++) {
        float *o = out + size_t(y) * g.out_w2 + x;
        float sx, sy;
        for (int dy = 0; dy < 2; dy++) {
          for (int dx = 0; dx < 2; dx++) {
            project(m.y, float(2 * x + dx), float(2 * y + dy), sx, sy);
            o[(dy * 2 + dx) * plane] = round_pixel(sample(data, g.stride, 1, g.width, g.height, sx, sy));
          }
        }
        project(m.uv, float(x), float(y), sx, sy);
        o[4 * plane] = round_pixel(sample(u, g.uv_stride, g.uv_step, g.width / 2, g.height / 2, sx, sy));
        o[5 * plane] = round_pixel(sample(v, g.uv_stride, g.uv_step, g.width / 2, g.height / 2, sx, sy));
      }
    }
  }
};

}  // namespace

std::unique_ptr<FrameTransform> make_cpu_transform(std::shared_ptr<Device> device, int out_w, int out_h) {
  return std::unique_ptr<FrameTransform>(new CpuTransform(std::move(device), out_w, out_h));
}

}  // namespace modeld
