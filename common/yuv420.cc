#include "common/yuv420.h"

#include <algorithm>
#include <stdexcept>

namespace conduit {

namespace {

int align_up(int v, int a) { return (v + a - 1) / a * a; }

// Checks shared by the layout and the pointer view; `fail` throws.
template <typename Fail>
void check_geometry(int width, int height, int stride, int uv_stride, int uv_step, Fail fail) {
  if (width <= 0 || height <= 0 || width % 2 || height % 2) fail("expected even width and height, both positive (4:2:0 chroma)");
  if (stride < width) fail("expected stride >= width");
  if (uv_step != 1 && uv_step != 2) fail("expected uv_step 2 (NV12) or 1 (I420)");
  if (uv_stride < width / 2 * uv_step) fail("expected uv_stride >= width / 2 * uv_step");
}

// Bytes a chroma plane spans from its first sample to one past its last.
size_t chroma_span(int width, int height, int uv_stride, int uv_step) {
  return size_t(uv_stride) * size_t(height / 2 - 1) + size_t(uv_step) * size_t(width / 2 - 1) + 1;
}

}  // namespace

const char *pixel_format_name(PixelFormat f) { return f == PixelFormat::kNv12 ? "nv12" : "yuv420p"; }

PixelFormat parse_pixel_format(const std::string &name) {
  if (name == "nv12") return PixelFormat::kNv12;
  if (name == "yuv420p" || name == "i420") return PixelFormat::kI420;
  throw std::invalid_argument("pixel format '" + name + "': expected nv12 or yuv420p (i420)");
}

size_t Yuv420Layout::size() const {
  size_t luma = size_t(stride) * size_t(height - 1) + size_t(width);
  size_t chroma = std::max(u_offset, v_offset) + chroma_span(width, height, uv_stride, uv_step);
  return std::max(luma, chroma);
}

void Yuv420Layout::validate(std::string_view what) const {
  auto fail = [&](const std::string &why) {
    throw std::invalid_argument(std::string(what) + ": bad 4:2:0 layout " + std::to_string(width) + "x" + std::to_string(height) +
                                " stride " + std::to_string(stride) + " u_offset " + std::to_string(u_offset) +
                                " v_offset " + std::to_string(v_offset) + " uv_stride " + std::to_string(uv_stride) +
                                " uv_step " + std::to_string(uv_step) + ": " + why);
  };
  check_geometry(width, height, stride, uv_stride, uv_step, fail);
  if (std::min(u_offset, v_offset) < size_t(stride) * size_t(height)) {
    fail("expected the chroma planes after the luma rows (offsets >= stride * height)");
  }
  size_t lo = std::min(u_offset, v_offset), hi = std::max(u_offset, v_offset);
  if (uv_step == 2 ? v_offset != u_offset + 1 : hi - lo < chroma_span(width, height, uv_stride, 1)) {
    fail(uv_step == 2 ? "expected NV12's V right after U (v_offset = u_offset + 1)" : "expected U and V apart");
  }
}

Yuv420Layout yuv420_layout(PixelFormat format, int width, int height, int stride_align, int row_align) {
  Yuv420Layout l;
  l.width = width;
  l.height = height;
  l.stride = align_up(width, stride_align);
  int rows = align_up(height, row_align);
  l.u_offset = size_t(l.stride) * size_t(rows);
  if (format == PixelFormat::kNv12) {
    l.uv_step = 2;
    l.uv_stride = l.stride;
    l.v_offset = l.u_offset + 1;
  } else {
    l.uv_step = 1;
    l.uv_stride = l.stride / 2;
    l.v_offset = l.u_offset + size_t(l.uv_stride) * size_t(rows / 2);
  }
  l.validate("yuv420_layout");
  return l;
}

Yuv420Frame Yuv420Frame::at(uint8_t *base, const Yuv420Layout &l) {
  return {base, base + l.u_offset, base + l.v_offset, l.width, l.height, l.stride, l.uv_stride, l.uv_step};
}

const uint8_t *Yuv420Frame::end() const {
  size_t chroma = chroma_span(width, height, uv_stride, uv_step);
  return std::max({y + size_t(stride) * size_t(height - 1) + size_t(width), u + chroma, v + chroma});
}

void Yuv420Frame::validate(std::string_view what) const {
  auto fail = [&](const std::string &why) {
    throw std::invalid_argument(std::string(what) + ": bad 4:2:0 frame " + std::to_string(width) + "x" + std::to_string(height) +
                                " stride " + std::to_string(stride) + " uv_stride " + std::to_string(uv_stride) +
                                " uv_step " + std::to_string(uv_step) + ": " + why);
  };
  check_geometry(width, height, stride, uv_stride, uv_step, fail);
  if (!y || !u || !v) fail("expected Y, U and V planes");
  size_t luma = size_t(stride) * size_t(height), chroma = chroma_span(width, height, uv_stride, uv_step);
  auto overlap = [](const uint8_t *a, size_t na, const uint8_t *b, size_t nb) { return a < b + nb && b < a + na; };
  if (overlap(y, luma, u, chroma) || overlap(y, luma, v, chroma)) fail("the Y plane overlaps chroma");
  if (uv_step == 2 ? v != u + 1 : overlap(u, chroma, v, chroma)) {
    fail(uv_step == 2 ? "expected NV12's V right after U (v = u + 1)" : "U and V planes overlap");
  }
}

}  // namespace conduit
