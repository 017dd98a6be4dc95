#pragma once
// A view of one camera frame in memory the caller owns (a VisionIPC buffer, a
// memfd, a numpy array): `data` plus where its planes lie (common/yuv420.h:
// NV12 or I420, any strides). Offsets rather than pointers, because the same
// layout also describes a copy of the frame in device memory. Nothing is copied.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "common/yuv420.h"

namespace modeld {

struct Frame {
  const uint8_t *data = nullptr;
  conduit::Yuv420Layout layout;

  // Bytes from `data` to the end of the last plane.
  size_t size() const { return layout.size(); }
  // Throws std::invalid_argument saying what is wrong (null data, a bad layout).
  void validate() const {
    if (!data) throw std::invalid_argument("frame: data is null");
    layout.validate("frame");
  }
};

}  // namespace modeld
