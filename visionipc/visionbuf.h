#pragma once
// VisionBuf: one 4:2:0 frame buffer (NV12 or I420, see common/yuv420.h) in
// shared memory, mapped into this process.
//
// The server allocates buffers (allocate()); clients import the fds they receive
// (import()). Both map the whole buffer read-write; `y`, `u` and `v` point into
// the mapping where `layout` says (luma rows `stride` bytes apart; chroma rows
// layout.uv_stride apart, samples layout.uv_step apart: 2 NV12, 1 I420).
// Interop views share the same memory, no copy:
//   init_cl()  -> buf_cl, an OpenCL buffer with CL_MEM_USE_HOST_PTR over `addr`
//   visionbuf_cuda.h registers `addr` with CUDA (cudaHostRegister, mapped)
// Ownership: a VisionBuf owns its fd, mapping and cl_mem and frees them on
// destruction; it is not copyable. Threads: no internal locking.
// Errors: visionipc::Error with the failing call and what was found.
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "visionipc/shared_memory.h"
#include "visionipc/visionipc.h"

class VisionBuf {
 public:
  VisionBuf() = default;
  VisionBuf(const VisionBuf &) = delete;
  VisionBuf &operator=(const VisionBuf &) = delete;
  ~VisionBuf();

  // Server side: fresh frame memory for `layout` (DMA-BUF heap or memfd), mapped.
  void allocate(const visionipc::BufferLayout &layout, const std::string &name);
  // Client side: takes ownership of `fd` (even on error), validates and maps it.
  void import(int fd, visionipc::MemoryKind kind, const visionipc::BufferLayout &layout);

  // Wraps the mapping as an OpenCL buffer (CL_MEM_USE_HOST_PTR); sets buf_cl.
  void init_cl(cl_device_id device_id, cl_context ctx);

  // Brackets CPU access for DMA-BUF memory (cache maintenance); no-op for memfd.
  void sync_start(bool write) const;
  void sync_end(bool write) const;

  // The frame as pointers into the mapping (nothing copied).
  conduit::Yuv420Frame frame() const { return conduit::Yuv420Frame::at(addr, layout); }
  // The layout's luma size and row stride.
  size_t width() const { return size_t(layout.width); }
  size_t height() const { return size_t(layout.height); }
  size_t stride() const { return size_t(layout.stride); }

  uint8_t *addr = nullptr;  // start of the mapping
  uint8_t *y = nullptr;     // == addr
  uint8_t *u = nullptr;     // == addr + layout.u_offset
  uint8_t *v = nullptr;     // == addr + layout.v_offset (u + 1 for NV12)
  size_t len = 0;           // bytes in the buffer (whole pages)
  conduit::Yuv420Layout layout;
  size_t idx = 0;  // index within its stream
  VisionStreamType type = VISION_STREAM_ROAD;
  int fd = -1;
  visionipc::MemoryKind memory_kind = visionipc::MemoryKind::kMemfd;
  cl_mem buf_cl = nullptr;
  // Device pointer after CUDA registration (visionbuf_cuda.h); nullptr otherwise.
  void *cuda_ptr = nullptr;
  // Set by cuda_register(); undoes the registration before the mapping goes away.
  void (*cuda_unregister)(VisionBuf *buf) = nullptr;

 private:
  void map(const visionipc::BufferLayout &layout);
  void release();
};
