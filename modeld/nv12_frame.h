#pragma once
// A view of one NV12 frame in memory the caller owns (a VisionIPC buffer, a
// memfd, a numpy array): luma rows of `stride` bytes, then at `uv_offset` the
// interleaved U/V rows (height/2 of them, same stride). Nothing is copied.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace modeld {

struct Nv12Frame {
  const uint8_t *data = nullptr;
  int width = 0, height = 0;
  int stride = 0;
  size_t uv_offset = 0;

  // Bytes from `data` to the end of the last chroma row.
  size_t size() const { return uv_offset + size_t(stride) * size_t(height / 2); }

  // Throws std::invalid_argument saying what is wrong (null data, odd size,
  // stride < width, chroma overlapping luma).
  void validate() const {
    auto fail = [&](const std::string &why) {
      throw std::invalid_argument("NV12 frame " + std::to_string(width) + "x" + std::to_string(height) +
                                  " stride " + std::to_string(stride) + " uv_offset " +
                                  std::to_string(uv_offset) + ": " + why);
    };
    if (!data) fail("data is null");
    if (width <= 0 || height <= 0 || width % 2 || height % 2) fail("expected a positive, even width and height");
    if (stride < width) fail("expected stride >= width");
    if (uv_offset < size_t(stride) * size_t(height)) fail("expected uv_offset >= stride * height (chroma after luma)");
  }
};

}  // namespace modeld
