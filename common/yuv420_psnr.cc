#include "common/yuv420_psnr.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace conduit {

namespace {

double squared_error(const uint8_t *a, int a_stride, int a_step, const uint8_t *b, int b_stride, int b_step, int w,
                     int h) {
  double se = 0;
  for (int r = 0; r < h; r++) {
    const uint8_t *ra = a + size_t(r) * a_stride, *rb = b + size_t(r) * b_stride;
    for (int c = 0; c < w; c++) {
      double d = double(ra[size_t(c) * a_step]) - double(rb[size_t(c) * b_step]);
      se += d * d;
    }
  }
  return se;
}

}  // namespace

double psnr(const Yuv420Frame &a, const Yuv420Frame &b) {
  a.validate("psnr");
  b.validate("psnr");
  if (a.width != b.width || a.height != b.height) {
    throw std::invalid_argument("psnr of a " + std::to_string(a.width) + "x" + std::to_string(a.height) + " and a " +
                                std::to_string(b.width) + "x" + std::to_string(b.height) + " frame");
  }
  int w = a.width, h = a.height;
  double se = squared_error(a.y, a.stride, 1, b.y, b.stride, 1, w, h) +
              squared_error(a.u, a.uv_stride, a.uv_step, b.u, b.uv_stride, b.uv_step, w / 2, h / 2) +
              squared_error(a.v, a.uv_stride, a.uv_step, b.v, b.uv_stride, b.uv_step, w / 2, h / 2);
  double mse = se / (double(w) * h * 3 / 2);
  return mse == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / mse);
}

}  // namespace conduit
