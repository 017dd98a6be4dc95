// The frame transform kernel (OpenCL C and CUDA; see kernel_defs.h).
// Reads a 4:2:0 frame in place (NV12 or I420: chroma through its offsets, row
// stride and pixel step) and writes the model frame: six planes of
// (out_h/2 x out_w/2) floats holding whole numbers 0..255:
//   0..3  luma at (even row, even col), (even, odd), (odd, even), (odd, odd)
//   4, 5  U, V
// With history_offset >= 0 the six planes found at out_offset are first
// moved there (the previous frame of a two-frame model input), in the same pass.
// Sampling is bilinear with edge replication; the C++ reference in
// modeld/transform_cpu.cc computes the same thing independently.

DEVICE_FN float warp_bilinear(const GMEM uchar *plane, int stride, int step, int w, int h,
                              float x, float y) {
  // Clamp to [-1, size] first (NaN, a point at or behind the horizon, becomes
  // -1): then x + 1 >= 0, so truncation is floor, and no library call is needed.
  if (!(x >= -1.0f)) x = -1.0f;
  if (x > (float)w) x = (float)w;
  if (!(y >= -1.0f)) y = -1.0f;
  if (y > (float)h) y = (float)h;
  int xi = (int)(x + 1.0f) - 1, yi = (int)(y + 1.0f) - 1;
  float ax = x - (float)xi, ay = y - (float)yi;
  int x0 = xi < 0 ? 0 : (xi > w - 1 ? w - 1 : xi);
  int x1 = xi + 1 > w - 1 ? w - 1 : xi + 1;
  int y0 = yi < 0 ? 0 : (yi > h - 1 ? h - 1 : yi);
  int y1 = yi + 1 > h - 1 ? h - 1 : yi + 1;
  const GMEM uchar *r0 = plane + y0 * stride, *r1 = plane + y1 * stride;
  float p00 = r0[x0 * step], p01 = r0[x1 * step];
  float p10 = r1[x0 * step], p11 = r1[x1 * step];
  float top = p00 + ax * (p01 - p00);
  float bottom = p10 + ax * (p11 - p10);
  return top + ay * (bottom - top);
}

DEVICE_FN void warp_point(const float *m, float x, float y, float *sx, float *sy) {
  float r = 1.0f / (m[6] * x + m[7] * y + m[8]);
  *sx = (m[0] * x + m[1] * y + m[2]) * r;
  *sy = (m[3] * x + m[4] * y + m[5]) * r;
}

// `history` is the same buffer as `out`: the planes moved there never overlap the ones written.
KERNEL warp_yuv420(const GMEM uchar *RESTRICT frame, WarpGeometry g, WarpParams m, GMEM float *RESTRICT out,
                 GMEM float *RESTRICT history) {
  int x = GID(0), y = GID(1);
  if (x >= g.out_w2 || y >= g.out_h2) return;
  int plane = g.out_w2 * g.out_h2;
  GMEM float *o = out + g.out_offset + y * g.out_w2 + x;
  if (g.history_offset >= 0) {
    // The previous frame's planes become the history half of a two-frame input;
    // each work item moves exactly the elements it then overwrites.
    GMEM float *h = history + g.history_offset + y * g.out_w2 + x;
    for (int c = 0; c < 6; c++) h[c * plane] = o[c * plane];
  }
  float sx, sy;
  for (int dy = 0; dy < 2; dy++) {
    for (int dx = 0; dx < 2; dx++) {
      warp_point(m.y, (float)(2 * x + dx), (float)(2 * y + dy), &sx, &sy);
      float v = warp_bilinear(frame, g.stride, 1, g.width, g.height, sx, sy);
      o[(dy * 2 + dx) * plane] = (float)(int)(v + 0.5f);
    }
  }
  warp_point(m.uv, (float)x, (float)y, &sx, &sy);
  o[4 * plane] = (float)(int)(warp_bilinear(frame + g.u_offset, g.uv_stride, g.uv_step, g.width / 2, g.height / 2, sx, sy) + 0.5f);
  o[5 * plane] = (float)(int)(warp_bilinear(frame + g.v_offset, g.uv_stride, g.uv_step, g.width / 2, g.height / 2, sx, sy) + 0.5f);
}
