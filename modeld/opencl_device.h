#pragma once
// The OpenCL device behind Backend::kOpenCL: the first GPU of any platform,
// else the first device (pocl's CPU device here), one context, one in-order
// queue with profiling, and the program holding every modeld kernel (built
// once per device from the sources embedded at build time, see kernels/).
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <memory>
#include <string>
#include <vector>

#include "modeld/device.h"

namespace modeld {

// Throws std::runtime_error("<what>: <CL error name> (<code>)") unless err == CL_SUCCESS.
void cl_check(cl_int err, const char *what);

class OpenClDevice : public Device {
 public:
  OpenClDevice();
  ~OpenClDevice() override;

  Backend backend() const override { return Backend::kOpenCL; }
  std::string description() const override { return description_; }
  DeviceBuffer alloc(size_t bytes) override;
  void release(DeviceBuffer &b) override;
  size_t allocated_bytes() const override { return allocated_; }
  void upload(const DeviceBuffer &dst, size_t offset, const void *src, size_t bytes) override;
  void download(const DeviceBuffer &src, size_t offset, void *dst, size_t bytes) override;
  void copy(const DeviceBuffer &dst, size_t dst_offset, const DeviceBuffer &src, size_t src_offset,
            size_t bytes) override;
  void finish() override;
  void begin_timing() override;
  double end_timing_ms() override;

  cl_context context() const { return context_; }
  cl_command_queue queue() const { return queue_; }
  // A new kernel object from the modeld program (caller releases it).
  cl_kernel kernel(const char *name);
  // Work-group and global sizes for `range` work items in `dims` dimensions:
  // groups of up to 256 items (fewer if the kernel allows fewer), up to 64
  // along the first (fastest, vectorized) dimension; the global size is
  // rounded up to whole groups, so kernels must check their bounds.
  void work_group(cl_kernel k, const size_t *range, cl_uint dims, size_t *local, size_t *global) const;

 private:
  cl_device_id device_ = nullptr;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
  cl_program program_ = nullptr;
  cl_event timing_start_ = nullptr;
  std::string description_;
  std::vector<cl_mem> buffers_;
  size_t allocated_ = 0;
};

}  // namespace modeld
