// detail::PooledSegment (messaging.h): the first segments of MessageBuilders,
// zeroed 8 KiB blocks from a process-wide pool behind a one-block cache per thread.
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "cereal/messaging.h"

namespace cereal {

namespace detail {

namespace {

constexpr size_t kSegmentWords = 1024;
constexpr size_t kMaxPooled = 64;

// Never destroyed: MessageBuilders in static objects may outlive any static pool.
struct SegmentPool {
  std::mutex mutex;
  std::vector<capnp::word *> free;
};

SegmentPool &pool() {
  static SegmentPool *p = new SegmentPool;
  return *p;
}

// One block per thread in front of the pool, so the usual build-send-destroy
// loop takes no lock. Trivially destructible: still usable while the thread
// exits, after ThreadBlockReturn has given the block back and closed it.
struct ThreadBlock {
  capnp::word *block = nullptr;
  bool closed = false;
};
thread_local ThreadBlock thread_block;

void give_back(capnp::word *block) {
  {
    std::lock_guard<std::mutex> lock(pool().mutex);
    if (pool().free.size() < kMaxPooled) {
      pool().free.push_back(block);
      return;
    }
  }
  std::free(block);
}

struct ThreadBlockReturn {
  ~ThreadBlockReturn() {
    thread_block.closed = true;
    if (thread_block.block != nullptr) give_back(thread_block.block);
    thread_block.block = nullptr;
  }
};

}  // namespace

PooledSegment::PooledSegment() {
  block_ = std::exchange(thread_block.block, nullptr);
  if (block_ == nullptr) {
    std::lock_guard<std::mutex> lock(pool().mutex);
    if (!pool().free.empty()) {
      block_ = pool().free.back();
      pool().free.pop_back();
    }
  }
  if (block_ == nullptr) {
    block_ = static_cast<capnp::word *>(std::calloc(kSegmentWords + 1, sizeof(capnp::word)));
    if (block_ == nullptr) throw std::bad_alloc();
  }
  segment_ = kj::arrayPtr(block_ + 1, kSegmentWords);
}

PooledSegment::~PooledSegment() {
  if (thread_block.block == nullptr && !thread_block.closed) {
    thread_local ThreadBlockReturn at_thread_exit;  // registered on first use
    (void)at_thread_exit;
    thread_block.block = block_;
    return;
  }
  give_back(block_);
}

}  // namespace detail

}  // namespace cereal
