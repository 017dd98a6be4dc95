// Model op kernels (OpenCL C and CUDA; see kernel_defs.h). One work item per
// output element (conv2d_x4: four). Comparisons are written out instead of
// fmax/fmin: pocl turns those into library calls in the inner loops; the host code in runner_opencl.cc / runner_cuda.cu sizes the
// ranges and fills the parameter blocks of kernel_params.h. Every kernel checks
// its bounds because CUDA rounds the grid up.

DEVICE_FN float apply_activation(float v, int act, float alpha) {
  switch (act) {
    case KP_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case KP_ACT_LEAKY_RELU: return v >= 0.0f ? v : alpha * v;
    case KP_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case KP_ACT_TANH: return tanhf(v);
    case KP_ACT_ELU: return v >= 0.0f ? v : alpha * (expf(v) - 1.0f);
    default: return v;
  }
}

// Range: (ow, oh, n * m).
KERNEL conv2d(const GMEM float *RESTRICT x, const GMEM float *RESTRICT w, const GMEM float *RESTRICT bias,
              GMEM float *RESTRICT y,
              ConvParams p) {
  int ox = GID(0), oy = GID(1), nm = GID(2);
  if (ox >= p.ow || oy >= p.oh || nm >= p.n * p.m) return;
  int n = nm / p.m, m = nm % p.m;
  int cg = p.c / p.group, g = m / (p.m / p.group);
  float acc = p.has_bias ? bias[m] : 0.0f;
  const GMEM float *wm = w + m * cg * p.kh * p.kw;
  int iy0 = oy * p.sh - p.pt, ix0 = ox * p.sw - p.pl;
  for (int ci = 0; ci < cg; ci++) {
    const GMEM float *xc = x + (n * p.c + g * cg + ci) * p.h * p.w;
    const GMEM float *wc = wm + ci * p.kh * p.kw;
    for (int ky = 0; ky < p.kh; ky++) {
      int iy = iy0 + ky * p.dh;
      if (iy < 0 || iy >= p.h) continue;
      for (int kx = 0; kx < p.kw; kx++) {
        int ix = ix0 + kx * p.dw;
        if (ix < 0 || ix >= p.w) continue;
        acc += xc[iy * p.w + ix] * wc[ky * p.kw + kx];
      }
    }
  }
  y[(nm * p.oh + oy) * p.ow + ox] = apply_activation(acc, p.act, p.alpha);
}

// Up to four output channels of one group per work item: each input value
// loaded is used four times. Range: (ow, oh, n * group * blocks), blocks =
// ceil((m / group) / 4); the last block of a group may be partial.
KERNEL conv2d_x4(const GMEM float *RESTRICT x, const GMEM float *RESTRICT w, const GMEM float *RESTRICT bias,
                 GMEM float *RESTRICT y,
                 ConvParams p) {
  int ox = GID(0), oy = GID(1), z = GID(2);
  if (ox >= p.ow || oy >= p.oh || z >= p.n * p.group * p.blocks) return;
  int b = z % p.blocks, g = (z / p.blocks) % p.group, n = z / (p.blocks * p.group);
  int mg = p.m / p.group, cg = p.c / p.group;
  int m = g * mg + b * 4, nb = min(4, mg - b * 4);
  int wstride = cg * p.kh * p.kw;
  // Rows of channels past the group's end repeat the last one: loads stay in
  // bounds and the results are simply not stored.
  int w1 = min(1, nb - 1) * wstride, w2 = min(2, nb - 1) * wstride, w3 = min(3, nb - 1) * wstride;
  float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
  if (p.has_bias) {
    a0 = bias[m];
    a1 = bias[m + w1 / wstride];
    a2 = bias[m + w2 / wstride];
    a3 = bias[m + w3 / wstride];
  }
  const GMEM float *wm = w + m * wstride;
  int iy0 = oy * p.sh - p.pt, ix0 = ox * p.sw - p.pl;
  for (int ci = 0; ci < cg; ci++) {
    const GMEM float *xc = x + (n * p.c + g * cg + ci) * p.h * p.w;
    const GMEM float *wc = wm + ci * p.kh * p.kw;
    for (int ky = 0; ky < p.kh; ky++) {
      int iy = iy0 + ky * p.dh;
      if (iy < 0 || iy >= p.h) continue;
      for (int kx = 0; kx < p.kw; kx++) {
        int ix = ix0 + kx * p.dw;
        if (ix < 0 || ix >= p.w) continue;
        float v = xc[iy * p.w + ix];
        int k = ky * p.kw + kx;
        a0 += v * wc[k];
        a1 += v * wc[w1 + k];
        a2 += v * wc[w2 + k];
        a3 += v * wc[w3 + k];
      }
    }
  }
  int plane = p.oh * p.ow, o = ((n * p.m + m) * p.oh + oy) * p.ow + ox;
  y[o] = apply_activation(a0, p.act, p.alpha);
  if (nb > 1) y[o + plane] = apply_activation(a1, p.act, p.alpha);
  if (nb > 2) y[o + 2 * plane] = apply_activation(a2, p.act, p.alpha);
  if (nb > 3) y[o + 3 * plane] = apply_activation(a3, p.act, p.alpha);
}

KERNEL activation(const GMEM float *RESTRICT x, GMEM float *RESTRICT y, ActivationParams p) {
  int i = GID(0);
  if (i >= p.count) return;
  y[i] = apply_activation(x[i], p.act, p.alpha);
}

KERNEL binary(const GMEM float *RESTRICT a, const GMEM float *RESTRICT b, GMEM float *RESTRICT y, BinaryParams p) {
  int i = GID(0);
  if (i >= p.count) return;
  int ia = p.index_a == KP_INDEX_SAME ? i : 0, ib = p.index_b == KP_INDEX_SAME ? i : 0;
  if (p.index_a == KP_INDEX_STRIDED || p.index_b == KP_INDEX_STRIDED) {
    int rest = i;
    ia = 0;
    ib = 0;
    for (int d = p.rank - 1; d >= 0; d--) {
      int c = rest % p.shape[d];
      rest /= p.shape[d];
      ia += c * p.stride_a[d];
      ib += c * p.stride_b[d];
    }
  }
  y[i] = p.op == KP_BINARY_ADD ? a[ia] + b[ib] : a[ia] * b[ib];
}

// Copies one input of a Concat into its slice of the output. Range: outer * axis_in * inner.
KERNEL concat_copy(const GMEM float *RESTRICT x, GMEM float *RESTRICT y, ConcatParams p) {
  int i = GID(0);
  if (i >= p.outer * p.axis_in * p.inner) return;
  int inner = i % p.inner, a = (i / p.inner) % p.axis_in, o = i / (p.inner * p.axis_in);
  y[(o * p.axis_out + p.axis_offset + a) * p.inner + inner] = x[i];
}

// Range: (ow, oh, planes).
KERNEL pool2d(const GMEM float *RESTRICT x, GMEM float *RESTRICT y, PoolParams p) {
  int ox = GID(0), oy = GID(1), c = GID(2);
  if (ox >= p.ow || oy >= p.oh || c >= p.planes) return;
  const GMEM float *xc = x + c * p.h * p.w;
  int iy0 = oy * p.sh - p.pt, ix0 = ox * p.sw - p.pl;
  float acc = p.is_max ? -INFINITY : 0.0f;
  int inside = 0;
  for (int ky = 0; ky < p.kh; ky++) {
    int iy = iy0 + ky;
    if (iy < 0 || iy >= p.h) continue;
    for (int kx = 0; kx < p.kw; kx++) {
      int ix = ix0 + kx;
      if (ix < 0 || ix >= p.w) continue;
      float v = xc[iy * p.w + ix];
      acc = p.is_max ? (v > acc ? v : acc) : acc + v;
      inside++;
    }
  }
  if (!p.is_max) acc /= (float)(p.count_include_pad ? p.kh * p.kw : inside);
  y[(c * p.oh + oy) * p.ow + ox] = acc;
}

// Range: (n, m, batch).
KERNEL matmul(const GMEM float *RESTRICT a, const GMEM float *RESTRICT b, const GMEM float *RESTRICT c,
              GMEM float *RESTRICT y,
              MatMulParams p) {
  int j = GID(0), i = GID(1), bi = GID(2);
  if (j >= p.n || i >= p.m || bi >= p.batch) return;
  int rest = bi, oa = 0, ob = 0;
  for (int d = p.batch_rank - 1; d >= 0; d--) {
    int q = rest % p.batch_shape[d];
    rest /= p.batch_shape[d];
    oa += q * p.batch_stride_a[d];
    ob += q * p.batch_stride_b[d];
  }
  const GMEM float *ar = a + oa + i * p.sa_m;
  const GMEM float *bc = b + ob + j * p.sb_n;
  float acc = 0.0f;
  for (int k = 0; k < p.k; k++) acc += ar[k * p.sa_k] * bc[k * p.sb_k];
  acc *= p.alpha;
  if (p.has_c) acc += p.beta * c[i * p.sc_m + j * p.sc_n];
  y[(bi * p.m + i) * p.n + j] = acc;
}

KERNEL transpose(const GMEM float *RESTRICT x, GMEM float *RESTRICT y, TransposeParams p) {
  int i = GID(0);
  if (i >= p.count) return;
  int rest = i, src = 0;
  for (int d = p.rank - 1; d >= 0; d--) {
    src += (rest % p.out_shape[d]) * p.in_stride[d];
    rest /= p.out_shape[d];
  }
  y[i] = x[src];
}

// Range: outer * inner; each work item normalizes one line along the axis.
KERNEL softmax(const GMEM float *RESTRICT x, GMEM float *RESTRICT y, SoftmaxParams p) {
  int i = GID(0);
  if (i >= p.outer * p.inner) return;
  int base = (i / p.inner) * p.axis * p.inner + i % p.inner;
  float mx = -INFINITY;
  for (int a = 0; a < p.axis; a++) {
    float v = x[base + a * p.inner];
    mx = v > mx ? v : mx;
  }
  float sum = 0.0f;
  for (int a = 0; a < p.axis; a++) sum += expf(x[base + a * p.inner] - mx);
  for (int a = 0; a < p.axis; a++) y[base + a * p.inner] = expf(x[base + a * p.inner] - mx) / sum;
}
