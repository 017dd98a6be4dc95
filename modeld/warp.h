#pragma once
// Warp matrices of the frame transform. A Mat3 maps a pixel centre of the
// model frame (x right, y down, luma pixels) to a pixel centre of the camera
// frame: [sx, sy, s] = M [x, y, 1], source point (sx/s, sy/s).
#include <array>

#include "modeld/kernels/kernel_params.h"

namespace modeld {

using Mat3 = std::array<float, 9>;  // row-major

Mat3 mat3_identity();
Mat3 mat3_mul(const Mat3 &a, const Mat3 &b);

// The default view when no calibration is published: the whole camera frame
// scaled into the model frame (aspect ratio not kept), pixel centres aligned.
Mat3 default_warp(int frame_w, int frame_h, int model_w, int model_h);

// The luma matrix and the chroma matrix derived from it (chroma sample (cx, cy)
// sits at luma (2cx + 0.5, 2cy + 0.5) in both frames).
WarpParams warp_params(const Mat3 &luma);

}  // namespace modeld
