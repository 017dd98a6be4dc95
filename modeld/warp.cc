#include "modeld/warp.h"

namespace modeld {

Mat3 mat3_identity() { return {1, 0, 0, 0, 1, 0, 0, 0, 1}; }

Mat3 mat3_mul(const Mat3 &a, const Mat3 &b) {
  Mat3 r{};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 3; k++) r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return r;
}

Mat3 default_warp(int frame_w, int frame_h, int model_w, int model_h) {
  float sx = float(frame_w) / float(model_w), sy = float(frame_h) / float(model_h);
  // Pixel centre x of the model frame covers [x, x+1) scaled: centre maps to (x + 0.5) * s - 0.5.
  return {sx, 0, 0.5f * sx - 0.5f, 0, sy, 0.5f * sy - 0.5f, 0, 0, 1};
}

WarpParams warp_params(const Mat3 &luma) {
  const Mat3 chroma_to_luma = {2, 0, 0.5f, 0, 2, 0.5f, 0, 0, 1};
  const Mat3 luma_to_chroma = {0.5f, 0, -0.25f, 0, 0.5f, -0.25f, 0, 0, 1};
  Mat3 uv = mat3_mul(luma_to_chroma, mat3_mul(luma, chroma_to_luma));
  WarpParams p;
  for (int i = 0; i < 9; i++) {
    p.y[i] = luma[i];
    p.uv[i] = uv[i];
  }
  return p;
}

}  // namespace modeld
