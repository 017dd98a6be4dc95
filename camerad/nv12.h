#pragma once
// A view of one NV12 image in memory somebody else owns (a VisionIPC buffer, a
// decoder's frame, a test's vector): a full-resolution Y plane, then a
// half-resolution plane of interleaved U,V pairs, both with `stride` bytes per
// row. uv = y + uv_offset in a VisionIPC buffer.
#include <cstddef>
#include <cstdint>
#include <string>

namespace camerad {

struct Nv12Frame {
  uint8_t *y = nullptr;
  uint8_t *uv = nullptr;
  int width = 0, height = 0, stride = 0;

  size_t y_bytes() const { return size_t(stride) * height; }
  size_t uv_bytes() const { return size_t(stride) * (height / 2); }
};

// Throws std::invalid_argument naming what is wrong (odd size, stride < width,
// null planes, overlapping planes) — NV12 needs even width and height.
void check_nv12(const Nv12Frame &f, const std::string &what);

}  // namespace camerad
