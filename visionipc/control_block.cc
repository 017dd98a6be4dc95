#include "visionipc/control_block.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "visionipc/shared_memory.h"

namespace visionipc {

namespace {
constexpr uint64_t kMagic = 0x314b4c4243504956ull;  // "VIPCBLK1"
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaskBits = 0xffffffffull;
static_assert(kMaxClientsPerStream <= 32, "holder mask has 32 bits");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics must be lock-free");
}  // namespace

struct ControlBlock::Shared {
  uint64_t magic;
  uint32_t version;
  uint32_t num_buffers;
  uint64_t server_id;
  alignas(64) std::atomic<uint64_t> state[kMaxBuffersPerStream];
};

ControlBlock::Shared *ControlBlock::map_shared(int fd) {
  void *p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw Error(std::string("mmap of control block: ") + strerror(errno));
  return static_cast<Shared *>(p);
}

ControlBlock ControlBlock::create(uint64_t server_id, uint32_t num_buffers) {
  if (num_buffers == 0 || num_buffers > kMaxBuffersPerStream) {
    throw Error("buffer count " + std::to_string(num_buffers) + " is invalid: expected 1.." +
                std::to_string(kMaxBuffersPerStream));
  }
  SharedMemory mem = create_memfd("vipc_control", sizeof(Shared));
  Shared *s = map_shared(mem.fd.get());
  s->magic = kMagic;
  s->version = kVersion;
  s->num_buffers = num_buffers;
  s->server_id = server_id;
  for (auto &w : s->state) w.store(0, std::memory_order_relaxed);
  return ControlBlock(std::move(mem.fd), s, num_buffers);
}

ControlBlock ControlBlock::attach(int raw_fd, uint64_t server_id, uint32_t num_buffers) {
  UniqueFd fd(raw_fd);
  check_received_memory(fd.get(), sizeof(Shared), "control block fd");
  Shared *s = map_shared(fd.get());
  ControlBlock cb(std::move(fd), s, num_buffers);
  if (s->magic != kMagic || s->version != kVersion) {
    throw Error("control block: expected magic/version " + std::to_string(kMagic) + "/" + std::to_string(kVersion) +
                ", found " + std::to_string(s->magic) + "/" + std::to_string(s->version));
  }
  if (s->server_id != server_id || s->num_buffers != num_buffers) {
    throw Error("control block: expected server " + std::to_string(server_id) + " with " +
                std::to_string(num_buffers) + " buffers, found server " + std::to_string(s->server_id) + " with " +
                std::to_string(s->num_buffers));
  }
  return cb;
}

ControlBlock::ControlBlock(ControlBlock &&o) noexcept
    : fd_(std::move(o.fd_)), shared_(std::exchange(o.shared_, nullptr)), num_buffers_(o.num_buffers_) {}

ControlBlock &ControlBlock::operator=(ControlBlock &&o) noexcept {
  if (this != &o) {
    if (shared_) munmap(shared_, sizeof(Shared));
    fd_ = std::move(o.fd_);
    shared_ = std::exchange(o.shared_, nullptr);
    num_buffers_ = o.num_buffers_;
  }
  return *this;
}

ControlBlock::~ControlBlock() {
  if (shared_) munmap(shared_, sizeof(Shared));
}

std::atomic<uint64_t> &ControlBlock::word(uint32_t idx) const { return shared_->state[idx]; }

bool ControlBlock::try_claim(uint32_t idx, uint32_t *generation) {
  std::atomic<uint64_t> &w = word(idx);
  uint64_t cur = w.load(std::memory_order_acquire);
  if (cur & kMaskBits) return false;
  uint32_t next_gen = uint32_t(cur >> 32) + 1;
  // Fails only if a client grabbed a hold in between: then the buffer is held.
  if (!w.compare_exchange_strong(cur, uint64_t(next_gen) << 32, std::memory_order_acq_rel)) return false;
  *generation = next_gen;
  return true;
}

bool ControlBlock::try_hold(uint32_t idx, uint32_t generation, int slot) {
  std::atomic<uint64_t> &w = word(idx);
  uint64_t cur = w.load(std::memory_order_acquire);
  do {
    if (uint32_t(cur >> 32) != generation) return false;
  } while (!w.compare_exchange_weak(cur, cur | (1ull << slot), std::memory_order_acq_rel));
  return true;
}

void ControlBlock::release(uint32_t idx, int slot) { word(idx).fetch_and(~(1ull << slot), std::memory_order_release); }

void ControlBlock::release_slot(int slot) {
  for (uint32_t i = 0; i < num_buffers_; i++) release(i, slot);
}

uint32_t ControlBlock::holders(uint32_t idx) const { return uint32_t(word(idx).load(std::memory_order_acquire) & kMaskBits); }

uint32_t ControlBlock::generation(uint32_t idx) const { return uint32_t(word(idx).load(std::memory_order_acquire) >> 32); }

}  // namespace visionipc
