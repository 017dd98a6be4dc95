// Parameter blocks passed by value to the kernels in modeld/kernels. Shared by
// the host code (C++), OpenCL C and CUDA, so they hold only 4-byte ints and
// floats: the layout is the same for every compiler.
#ifndef MODELD_KERNELS_KERNEL_PARAMS_H
#define MODELD_KERNELS_KERNEL_PARAMS_H

#define KP_MAX_RANK 6
#define KP_MAX_BATCH_RANK 4

// Homogeneous 3x3 matrices, row-major, mapping output pixel centres to source
// pixel centres: one for luma, one for chroma (derived from the luma one).
typedef struct {
  float y[9];
  float uv[9];
} WarpParams;

typedef struct {
  int width, height, stride;             // source frame: luma (common/yuv420.h)
  int u_offset, v_offset, uv_stride, uv_step;  // chroma: 2 NV12 (interleaved), 1 I420 (planar)
  int out_w2, out_h2;                    // output planes: (out_h / 2) x (out_w / 2)
  int out_offset;                        // first output element
  int history_offset;                    // >= 0: first move the old output there
} WarpGeometry;

enum { KP_ACT_NONE = 0, KP_ACT_RELU, KP_ACT_LEAKY_RELU, KP_ACT_SIGMOID, KP_ACT_TANH, KP_ACT_ELU };

typedef struct {
  int n, c, h, w;       // input
  int m, oh, ow;        // output channels and size
  int kh, kw, sh, sw, pt, pl, dh, dw, group;
  int has_bias;
  int blocks;           // conv2d_x4: blocks of 4 output channels per group
  int act;              // KP_ACT_*, fused activation applied to the result
  float alpha;          // of the fused activation
} ConvParams;

typedef struct {
  int count;
  int act;
  float alpha;
} ActivationParams;

enum { KP_BINARY_ADD = 0, KP_BINARY_MUL };
// How an operand of a binary op is indexed: like the output (same shape), as
// a scalar, or through the broadcast strides.
enum { KP_INDEX_STRIDED = 0, KP_INDEX_SAME, KP_INDEX_SCALAR };

typedef struct {
  int count, rank, op;
  int index_a, index_b;     // KP_INDEX_*
  int shape[KP_MAX_RANK];     // output shape
  int stride_a[KP_MAX_RANK];  // element strides of a and b per output dim (0 = broadcast)
  int stride_b[KP_MAX_RANK];
} BinaryParams;

typedef struct {
  int outer, axis_in, axis_out, axis_offset, inner;
} ConcatParams;

typedef struct {
  int planes, h, w, oh, ow, kh, kw, sh, sw, pt, pl;
  int is_max, count_include_pad;
} PoolParams;

// y[b, i, j] = alpha * sum_k a[b, i, k] * b[b, k, j] + beta * c[i, j]
typedef struct {
  int batch, batch_rank;
  int batch_shape[KP_MAX_BATCH_RANK];
  int batch_stride_a[KP_MAX_BATCH_RANK];
  int batch_stride_b[KP_MAX_BATCH_RANK];
  int m, n, k;
  int sa_m, sa_k, sb_k, sb_n, sc_m, sc_n;
  int has_c;
  float alpha, beta;
} MatMulParams;

typedef struct {
  int count, rank;
  int out_shape[KP_MAX_RANK];
  int in_stride[KP_MAX_RANK];  // input stride of each output dim
} TransposeParams;

typedef struct {
  int outer, axis, inner;
} SoftmaxParams;

#endif
