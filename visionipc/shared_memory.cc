#include "visionipc/shared_memory.h"

#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "visionipc/visionipc.h"

namespace visionipc {

namespace {

constexpr const char *kDmaHeapPath = "/dev/dma_heap/system";

std::string errno_text(const char *call) { return std::string(call) + ": " + strerror(errno); }

void log_kind_once(MemoryKind kind, const char *why) {
  static std::atomic<int> logged{-1};
  int expected = -1;
  if (logged.compare_exchange_strong(expected, int(kind))) {
    fprintf(stderr, "visionipc: frame buffers from %s (%s)\n", memory_kind_name(kind), why);
  }
}

bool dma_heap_wanted() {
  const char *force = getenv("CONDUIT_VIPC_ALLOCATOR");
  return !(force && strcmp(force, "memfd") == 0);
}

}  // namespace

const char *memory_kind_name(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kDmaHeap: return "dma_heap";
    case MemoryKind::kDeviceDmaBuf: return "device_dmabuf";
    default: return "memfd";
  }
}

SharedMemory create_memfd(const std::string &name, size_t len, void **owner_mapping) {
  UniqueFd fd(memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) throw Error(errno_text("memfd_create"));
  if (ftruncate(fd.get(), off_t(len)) != 0) throw Error(errno_text("ftruncate of memfd"));
  int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  if (owner_mapping) {
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) throw Error(errno_text("mmap of memfd"));
    *owner_mapping = p;
    seals |= F_SEAL_FUTURE_WRITE;
  }
  if (fcntl(fd.get(), F_ADD_SEALS, seals) != 0) {
    std::string err = errno_text("F_ADD_SEALS on memfd");
    if (owner_mapping) munmap(*owner_mapping, len);
    throw Error(err);
  }
  return {std::move(fd), MemoryKind::kMemfd};
}

SharedMemory allocate_frame_memory(const std::string &name, size_t len) {
  if (!dma_heap_wanted()) {
    log_kind_once(MemoryKind::kMemfd, "CONDUIT_VIPC_ALLOCATOR=memfd");
    return create_memfd(name, len);
  }
  UniqueFd heap(open(kDmaHeapPath, O_RDWR | O_CLOEXEC));
  if (!heap.valid()) {
    log_kind_once(MemoryKind::kMemfd, errno == ENOENT ? "no /dev/dma_heap/system" : strerror(errno));
    return create_memfd(name, len);
  }
  dma_heap_allocation_data alloc = {};
  alloc.len = len;
  alloc.fd_flags = O_RDWR | O_CLOEXEC;
  if (ioctl(heap.get(), DMA_HEAP_IOCTL_ALLOC, &alloc) != 0) {
    log_kind_once(MemoryKind::kMemfd, "DMA_HEAP_IOCTL_ALLOC failed");
    return create_memfd(name, len);
  }
  log_kind_once(MemoryKind::kDmaHeap, kDmaHeapPath);
  return {UniqueFd(int(alloc.fd)), MemoryKind::kDmaHeap};
}

void check_received_memory(int fd, size_t len, const char *what) {
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) throw Error(std::string(what) + ": not a seekable memory fd (" + strerror(errno) + ")");
  if (size_t(size) < len) {
    throw Error(std::string(what) + ": expected at least " + std::to_string(len) + " bytes, found " +
                std::to_string(size));
  }
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && !(seals & F_SEAL_SHRINK)) {
    throw Error(std::string(what) + ": memfd is not sealed against shrinking (seals=" + std::to_string(seals) + ")");
  }
}

void cpu_access(int fd, MemoryKind kind, bool start, bool write) {
  if (kind == MemoryKind::kMemfd) return;
  struct dma_buf_sync sync = {};
  sync.flags = (start ? DMA_BUF_SYNC_START : DMA_BUF_SYNC_END) | (write ? DMA_BUF_SYNC_RW : DMA_BUF_SYNC_READ);
  while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) != 0 && errno == EINTR) {
  }
}

}  // namespace visionipc
