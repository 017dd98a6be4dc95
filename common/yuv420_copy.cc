#include "common/yuv420_copy.h"

#include <cstring>
#include <stdexcept>
#include <string>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace conduit {

namespace {

// n interleaved U,V pairs -> two planes.
void split_row(const uint8_t *uv, uint8_t *u, uint8_t *v, int n) {
  int i = 0;
#ifdef __SSE2__
  const __m128i lo = _mm_set1_epi16(0x00ff);
  for (; i + 16 <= n; i += 16) {
    __m128i a = _mm_loadu_si128((const __m128i *)(uv + 2 * i));
    __m128i b = _mm_loadu_si128((const __m128i *)(uv + 2 * i + 16));
    __m128i us = _mm_packus_epi16(_mm_and_si128(a, lo), _mm_and_si128(b, lo));
    __m128i vs = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
    _mm_storeu_si128((__m128i *)(u + i), us);
    _mm_storeu_si128((__m128i *)(v + i), vs);
  }
#endif
  for (; i < n; i++) {
    u[i] = uv[2 * i];
    v[i] = uv[2 * i + 1];
  }
}

void check_sizes(const Yuv420Frame &src, const Yuv420Frame &dst) {
  src.validate("copy source");
  dst.validate("copy destination");
  if (src.width != dst.width || src.height != dst.height) {
    throw std::invalid_argument("copy of a " + std::to_string(src.width) + "x" + std::to_string(src.height) +
                                " frame into a " + std::to_string(dst.width) + "x" + std::to_string(dst.height) + " one");
  }
}

}  // namespace

size_t copy_chroma(const Yuv420Frame &src, const Yuv420Frame &dst) {
  check_sizes(src, dst);
  const int cw = src.width / 2;
  for (int r = 0; r < src.height / 2; r++) {
    const uint8_t *su = src.u + size_t(r) * src.uv_stride, *sv = src.v + size_t(r) * src.uv_stride;
    uint8_t *du = dst.u + size_t(r) * dst.uv_stride, *dv = dst.v + size_t(r) * dst.uv_stride;
    if (src.uv_step == dst.uv_step) {
      memcpy(du, su, size_t(cw) * src.uv_step);  // NV12: U and V of the row at once
      if (src.uv_step == 1) memcpy(dv, sv, size_t(cw));
    } else if (src.uv_step == 2) {
      split_row(su, du, dv, cw);
    } else {
      for (int i = 0; i < cw; i++) {
        du[2 * i] = su[i];
        dv[2 * i] = sv[i];
      }
    }
  }
  return size_t(cw) * size_t(src.height / 2) * 2;
}

size_t copy_frame(const Yuv420Frame &src, const Yuv420Frame &dst) {
  size_t chroma = copy_chroma(src, dst);
  for (int r = 0; r < src.height; r++) memcpy(dst.y + size_t(r) * dst.stride, src.y + size_t(r) * src.stride, src.width);
  return size_t(src.width) * size_t(src.height) + chroma;
}

}  // namespace conduit
