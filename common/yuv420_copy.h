#pragma once
// Copies of 4:2:0 frames between any two layouts (common/yuv420.h): row by
// row, converting the chroma arrangement where the two differ (NV12 -> I420
// splits the interleaved plane, I420 -> NV12 interleaves). The frame path avoids
// these where it can; they exist for the places that cannot (a codec that takes
// only the other layout, a device buffer, a test's compact image). Each returns
// the bytes it wrote, so callers can count their copies.
// Threads: no shared state. Errors: std::invalid_argument for frames of
// different sizes (each frame must be valid: Yuv420Frame::validate).
#include <cstddef>

#include "common/yuv420.h"

namespace conduit {

// Y, U and V of src into dst.
size_t copy_frame(const Yuv420Frame &src, const Yuv420Frame &dst);
// U and V only (dst's Y plane is left alone, e.g. lent in place).
size_t copy_chroma(const Yuv420Frame &src, const Yuv420Frame &dst);

}  // namespace conduit
