#include "msgq/bench/shared_region.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace msgq_bench {

namespace {
constexpr size_t kHeaderBytes = 4096;  // SharedRegion itself, then the channels page-aligned
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }
}  // namespace

FutexChannel *SharedRegion::channel(int i) {
  char *base = reinterpret_cast<char *>(this) + kHeaderBytes;
  return reinterpret_cast<FutexChannel *>(base + size_t(i) * channel_stride);
}

SharedRegion *SharedRegion::create(size_t payload_size) {
  static_assert(sizeof(SharedRegion) <= kHeaderBytes);
  size_t stride = round_up(sizeof(FutexChannel) + payload_size, 4096);
  size_t bytes = kHeaderBytes + 2 * stride;
  void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw std::runtime_error("shared region: mmap of " + std::to_string(bytes) + " bytes failed: " + strerror(errno));
  }
  // cppcheck-suppress legacyUninitvar ; placement new over the fresh mapping
  auto *r = new (p) SharedRegion{};
  r->channel_stride = stride;
  new (r->channel(0)) FutexChannel{};
  new (r->channel(1)) FutexChannel{};
  return r;
}

}  // namespace msgq_bench
