// One kernel source for two compilers: the files in modeld/kernels are compiled
// as OpenCL C (embedded into modeld and built by the ICD at run time) and as
// CUDA (included by the .cu files, built by nvcc). These macros paper over the
// few spelling differences, so both backends run the very same arithmetic.
// RESTRICT marks pointers whose accesses never overlap another argument's: it
// lets pocl vectorize a work group's loop over work items.
#ifndef MODELD_KERNELS_KERNEL_DEFS_H
#define MODELD_KERNELS_KERNEL_DEFS_H

#if defined(__OPENCL_VERSION__)
#define KERNEL __kernel void
#define GMEM __global
#define RESTRICT restrict
#define DEVICE_FN inline
#define GID(d) ((int)get_global_id(d))
#define expf(x) exp(x)
#define tanhf(x) tanh(x)
#else  // CUDA
#define KERNEL extern "C" __global__ void
#define GMEM
#define RESTRICT __restrict__
#define DEVICE_FN __device__ inline
#define GID(d)                                                               \
  ((int)((d) == 0   ? blockIdx.x * blockDim.x + threadIdx.x                  \
         : (d) == 1 ? blockIdx.y * blockDim.y + threadIdx.y                  \
                    : blockIdx.z * blockDim.z + threadIdx.z))
typedef unsigned char uchar;
#endif

#endif
