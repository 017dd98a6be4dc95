// The frame transform kernel (OpenCL C and CUDA; see kernel_defs.h).
// Reads an NV12 frame in place and writes the model frame: six planes of
// (out_h/2 x out_w/2) floats holding whole numbers 0..255:
//   0..3  luma at (even row, even col), (even, odd), (odd, even), (odd, odd)
//   4, 5  U, V
// Sampling is bilinear with edge replication; the C++ reference in
// modeld/transform_cpu.cc computes the same thing independently.

DEVICE_FN float warp_bilinear(const GMEM uchar *plane, int stride, int step, int w, int h,
                              float x, float y) {
  // Clamping first keeps inf/NaN (a point at or behind the horizon) well defined.
  x = fminf(fmaxf(x, -1.0f), (float)w);
  y = fminf(fmaxf(y, -1.0f), (float)h);
  float xf = floorf(x), yf = floorf(y);
  float ax = x - xf, ay = y - yf;
  int x0 = (int)xf, y0 = (int)yf;
  int x1 = min(max(x0 + 1, 0), w - 1), y1 = min(max(y0 + 1, 0), h - 1);
  x0 = min(max(x0, 0), w - 1);
  y0 = min(max(y0, 0), h - 1);
  float p00 = plane[y0 * stride + x0 * step], p01 = plane[y0 * stride + x1 * step];
  float p10 = plane[y1 * stride + x0 * step], p11 = plane[y1 * stride + x1 * step];
  float top = p00 + ax * (p01 - p00);
  float bottom = p10 + ax * (p11 - p10);
  return top + ay * (bottom - top);
}

DEVICE_FN void warp_point(const float *m, float x, float y, float *sx, float *sy) {
  float d = m[6] * x + m[7] * y + m[8];
  *sx = (m[0] * x + m[1] * y + m[2]) / d;
  *sy = (m[3] * x + m[4] * y + m[5]) / d;
}

KERNEL warp_nv12(const GMEM uchar *frame, WarpGeometry g, WarpParams m, GMEM float *out) {
  int x = GID(0), y = GID(1);
  if (x >= g.out_w2 || y >= g.out_h2) return;
  int plane = g.out_w2 * g.out_h2;
  GMEM float *o = out + g.out_offset + y * g.out_w2 + x;
  float sx, sy;
  for (int dy = 0; dy < 2; dy++) {
    for (int dx = 0; dx < 2; dx++) {
      warp_point(m.y, (float)(2 * x + dx), (float)(2 * y + dy), &sx, &sy);
      float v = warp_bilinear(frame, g.stride, 1, g.width, g.height, sx, sy);
      o[(dy * 2 + dx) * plane] = floorf(v + 0.5f);
    }
  }
  const GMEM uchar *uv = frame + g.uv_offset;
  warp_point(m.uv, (float)x, (float)y, &sx, &sy);
  o[4 * plane] = floorf(warp_bilinear(uv, g.stride, 2, g.width / 2, g.height / 2, sx, sy) + 0.5f);
  o[5 * plane] = floorf(warp_bilinear(uv + 1, g.stride, 2, g.width / 2, g.height / 2, sx, sy) + 0.5f);
}
