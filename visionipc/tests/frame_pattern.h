#pragma once
// Test frames whose every byte is a function of the frame id, so a reader can
// tell a whole frame from a torn or overwritten one.
#include <cstdint>
#include <cstring>

#include "visionipc/visionbuf.h"

namespace visionipc_test {

inline uint8_t y_byte(uint32_t frame, size_t row) { return uint8_t(frame * 13 + row); }
inline uint8_t uv_byte(uint32_t frame, size_t row) { return uint8_t(frame * 7 + row * 3 + 1); }

inline uint8_t v_byte(uint32_t frame, size_t row) { return uint8_t(uv_byte(frame, row) ^ 0x55); }

// Chroma sample c of row r of plane p (b->u or b->v), in any layout.
inline uint8_t *chroma(const VisionBuf *b, uint8_t *p, size_t r, size_t c) {
  return p + r * size_t(b->layout.uv_stride) + c * size_t(b->layout.uv_step);
}

inline void write_frame(VisionBuf *b, uint32_t frame) {
  for (size_t r = 0; r < b->height(); r++) memset(b->y + r * b->stride(), y_byte(frame, r), b->width());
  for (size_t r = 0; r < b->height() / 2; r++) {
    for (size_t c = 0; c < b->width() / 2; c++) {
      *chroma(b, b->u, r, c) = uv_byte(frame, r);
      *chroma(b, b->v, r, c) = v_byte(frame, r);
    }
  }
  memcpy(b->y, &frame, sizeof(frame));  // the id itself, so a swapped buffer is caught too
}

// True when `b` holds exactly frame `frame`.
inline bool check_frame(const VisionBuf *b, uint32_t frame) {
  uint32_t stored;
  memcpy(&stored, b->y, sizeof(stored));
  if (stored != frame) return false;
  for (size_t r = 0; r < b->height(); r++) {
    const uint8_t *row = b->y + r * b->stride();
    for (size_t c = r == 0 ? sizeof(frame) : 0; c < b->width(); c++) {
      if (row[c] != y_byte(frame, r)) return false;
    }
  }
  for (size_t r = 0; r < b->height() / 2; r++) {
    for (size_t c = 0; c < b->width() / 2; c++) {
      if (*chroma(b, b->u, r, c) != uv_byte(frame, r) || *chroma(b, b->v, r, c) != v_byte(frame, r)) return false;
    }
  }
  return true;
}

}  // namespace visionipc_test
