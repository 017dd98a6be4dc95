#pragma once
// Where frame and control memory comes from.
//
// Frame buffers come from the DMA-BUF system heap (/dev/dma_heap/system) when the
// kernel offers it, so a camera or encoder can DMA straight into them; otherwise
// from a memfd. Either way the memory is an fd that can be passed with SCM_RIGHTS
// and mmap-ed by every process. memfds are sealed against shrinking and growing
// (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL), so a mapping can never SIGBUS because
// somebody truncated the file. The choice is made at run time and logged once;
// CONDUIT_VIPC_ALLOCATOR=memfd forces memfd.
// Errors: visionipc::Error naming the failing call and errno text.
#include <cstddef>
#include <string>

#include "visionipc/unique_fd.h"

namespace visionipc {

// kDeviceDmaBuf: DMA-BUFs a device exported (V4L2 VIDIOC_EXPBUF), served in place.
enum class MemoryKind { kMemfd, kDmaHeap, kDeviceDmaBuf };
const char *memory_kind_name(MemoryKind kind);  // "memfd", "dma_heap" or "device_dmabuf"

struct SharedMemory {
  UniqueFd fd;
  MemoryKind kind = MemoryKind::kMemfd;
};

// A sealed memfd of exactly `len` bytes; `name` shows up in /proc/<pid>/fd.
// With owner_mapping, it is mapped here read-write (*owner_mapping, the caller
// unmaps it) and then sealed with F_SEAL_FUTURE_WRITE: any other mapping of it,
// in any process, can only be read-only.
SharedMemory create_memfd(const std::string &name, size_t len, void **owner_mapping = nullptr);
// Frame memory: DMA-BUF heap if present and allowed, else create_memfd().
SharedMemory allocate_frame_memory(const std::string &name, size_t len);

// Checks an fd received from a peer before mapping it: at least `len` bytes and,
// for a memfd, sealed against shrinking. Throws Error saying what was found.
void check_received_memory(int fd, size_t len, const char *what);

// DMA-BUF CPU access bracketing (DMA_BUF_IOCTL_SYNC); no-op for memfds.
// A DMA-BUF whose device is gone fails it: ignored, the mapping stays readable.
void cpu_access(int fd, MemoryKind kind, bool start, bool write);

}  // namespace visionipc
