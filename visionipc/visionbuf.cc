#include "visionipc/visionbuf.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

using visionipc::Error;

VisionBuf::~VisionBuf() { release(); }

void VisionBuf::release() {
  if (cuda_unregister) cuda_unregister(this);
  cuda_unregister = nullptr;
  cuda_ptr = nullptr;
  if (buf_cl) clReleaseMemObject(buf_cl);
  buf_cl = nullptr;
  if (addr) munmap(addr, len);
  addr = y = u = v = nullptr;
  if (fd >= 0) close(fd);
  fd = -1;
}

void VisionBuf::map(const visionipc::BufferLayout &l) {
  void *p = mmap(nullptr, l.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw Error(std::string("mmap of frame buffer: ") + strerror(errno));
  addr = static_cast<uint8_t *>(p);
  len = l.len;
  layout = l.frame;
  y = addr;
  u = addr + layout.u_offset;
  v = addr + layout.v_offset;
}

void VisionBuf::allocate(const visionipc::BufferLayout &layout, const std::string &name) {
  release();
  visionipc::SharedMemory mem = visionipc::allocate_frame_memory(name, layout.len);
  memory_kind = mem.kind;
  fd = mem.fd.release();
  map(layout);
}

void VisionBuf::import(int new_fd, visionipc::MemoryKind kind, const visionipc::BufferLayout &layout) {
  release();
  fd = new_fd;
  memory_kind = kind;
  visionipc::check_received_memory(fd, layout.len, "frame buffer fd");
  map(layout);
}

void VisionBuf::init_cl(cl_device_id device_id, cl_context ctx) {
  if (buf_cl) return;
  cl_int err = CL_SUCCESS;
  buf_cl = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, len, addr, &err);
  if (err != CL_SUCCESS || !buf_cl) {
    buf_cl = nullptr;
    throw Error("clCreateBuffer(CL_MEM_USE_HOST_PTR) over a frame buffer failed: error " + std::to_string(err));
  }
}

void VisionBuf::sync_start(bool write) const { visionipc::cpu_access(fd, memory_kind, true, write); }
void VisionBuf::sync_end(bool write) const { visionipc::cpu_access(fd, memory_kind, false, write); }
