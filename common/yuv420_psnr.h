#pragma once
// PSNR between two 4:2:0 frames of the same size, over all Y, U and V samples,
// whatever their layouts (NV12, I420, any strides): how tests check a frame
// against the one it should be (a decoded picture against the synthetic source).
// Returns 99 for identical frames. Errors: std::invalid_argument for frames of
// different sizes or an invalid frame.
#include "common/yuv420.h"

namespace conduit {

double psnr(const Yuv420Frame &a, const Yuv420Frame &b);

}  // namespace conduit
