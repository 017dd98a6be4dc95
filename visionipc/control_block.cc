#include "visionipc/control_block.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "visionipc/shared_memory.h"

namespace visionipc {

namespace {
constexpr uint64_t kMagic = 0x324b4c4243504956ull;  // "VIPCBLK2"
constexpr uint32_t kVersion = 2;
constexpr size_t kPage = 4096;
static_assert(kMaxClientsPerStream <= 32, "slot masks have 32 bits");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared atomics must be lock-free");
static_assert(sizeof(std::atomic<uint32_t>) * kMaxBuffersPerStream <= kPage, "a hold page is one page");

void *map(void *at, size_t len, int prot, int flags, int fd, const char *what) {
  void *p = mmap(at, len, prot, flags, fd, 0);
  if (p == MAP_FAILED) throw Error(std::string("mmap of ") + what + ": " + strerror(errno));
  return p;
}

uint32_t next_generation(uint32_t g) { return g + 1 == 0 ? 1 : g + 1; }  // 0 means "no hold"
}  // namespace

struct ControlBlock::Shared {
  uint64_t magic;
  uint32_t version;
  uint32_t num_buffers;
  uint64_t server_id;
  alignas(64) std::atomic<uint32_t> generation[kMaxBuffersPerStream];
};

struct ControlBlock::Holds {
  std::atomic<uint32_t> generation[kMaxBuffersPerStream];
};

// One page per slot at a fixed address, so the producer can read a slot while
// the listener swaps its page (MAP_FIXED replaces a mapping atomically).
struct ControlBlock::Slots {
  uint8_t *pages = nullptr;
  std::atomic<uint32_t> attached{0}, over_budget{0};
  ~Slots() {
    if (pages) munmap(pages, kPage * kMaxClientsPerStream);
  }
};

ControlBlock ControlBlock::create(uint64_t server_id, uint32_t num_buffers) {
  if (num_buffers == 0 || num_buffers > kMaxBuffersPerStream) {
    throw Error("buffer count " + std::to_string(num_buffers) + " is invalid: expected 1.." +
                std::to_string(kMaxBuffersPerStream));
  }
  ControlBlock cb;
  void *mapping = nullptr;
  cb.fd_ = create_memfd("vipc_control", sizeof(Shared), &mapping).fd;  // read-only for every other mapping
  cb.shared_ = static_cast<Shared *>(mapping);
  cb.num_buffers_ = num_buffers;
  cb.shared_->magic = kMagic;
  cb.shared_->version = kVersion;
  cb.shared_->num_buffers = num_buffers;
  cb.shared_->server_id = server_id;
  cb.slots_ = std::make_unique<Slots>();
  cb.slots_->pages = static_cast<uint8_t *>(map(nullptr, kPage * kMaxClientsPerStream, PROT_READ,
                                                MAP_PRIVATE | MAP_ANONYMOUS, -1, "hold pages"));
  return cb;
}

ControlBlock ControlBlock::attach(int control_fd, int holds_fd, uint64_t server_id, uint32_t num_buffers) {
  UniqueFd control(control_fd), holds(holds_fd);
  check_received_memory(control.get(), sizeof(Shared), "control block fd");
  check_received_memory(holds.get(), sizeof(Holds), "hold page fd");
  ControlBlock cb;
  cb.shared_ = static_cast<Shared *>(map(nullptr, sizeof(Shared), PROT_READ, MAP_SHARED, control.get(), "control block"));
  cb.fd_ = std::move(control);
  cb.holds_ = static_cast<Holds *>(map(nullptr, sizeof(Holds), PROT_READ | PROT_WRITE, MAP_SHARED, holds.get(), "hold page"));
  cb.num_buffers_ = num_buffers;
  const Shared *s = cb.shared_;
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

ControlBlock::ControlBlock(ControlBlock &&o) noexcept { *this = std::move(o); }

ControlBlock &ControlBlock::operator=(ControlBlock &&o) noexcept {
  if (this != &o) {
    unmap();
    fd_ = std::move(o.fd_);
    shared_ = std::exchange(o.shared_, nullptr);
    num_buffers_ = o.num_buffers_;
    holds_ = std::exchange(o.holds_, nullptr);
    slots_ = std::move(o.slots_);
  }
  return *this;
}

ControlBlock::~ControlBlock() { unmap(); }

void ControlBlock::unmap() {
  if (shared_) munmap(shared_, sizeof(Shared));
  if (holds_) munmap(holds_, sizeof(Holds));
  shared_ = nullptr;
  holds_ = nullptr;
  slots_.reset();
}

const ControlBlock::Holds &ControlBlock::slot_holds(int slot) const {
  return *reinterpret_cast<const Holds *>(slots_->pages + kPage * size_t(slot));
}

UniqueFd ControlBlock::open_slot(int slot) {
  SharedMemory page = create_memfd("vipc_holds", kPage);
  map(slots_->pages + kPage * size_t(slot), kPage, PROT_READ, MAP_SHARED | MAP_FIXED, page.fd.get(), "hold page");
  slots_->attached.fetch_or(1u << slot);
  return std::move(page.fd);
}

void ControlBlock::close_slot(int slot) {
  slots_->attached.fetch_and(~(1u << slot));
  slots_->over_budget.fetch_and(~(1u << slot));
  // Zeros in place of the client's page: it holds nothing from now on, whatever
  // it writes. Should this fail the slot is not attached, so nobody reads it.
  mmap(slots_->pages + kPage * size_t(slot), kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

bool ControlBlock::within_budget(int slot, uint32_t idx, uint32_t generation) const {
  const Holds &h = slot_holds(slot);
  uint32_t count = 0;
  for (uint32_t i = 0; i < num_buffers_; i++) {
    uint32_t g = h.generation[i].load(std::memory_order_relaxed);
    count += g != 0 && g == (i == idx ? generation : shared_->generation[i].load(std::memory_order_relaxed));
  }
  if (count <= uint32_t(kMaxHoldsPerClient)) return true;
  slots_->over_budget.fetch_or(1u << slot, std::memory_order_relaxed);
  return false;
}

bool ControlBlock::held(uint32_t idx, uint32_t generation) const {
  if (generation == 0) return false;  // never announced
  for (uint32_t mask = slots_->attached.load(); mask; mask &= mask - 1) {
    int slot = __builtin_ctz(mask);
    if (slot_holds(slot).generation[idx].load() == generation && within_budget(slot, idx, generation)) return true;
  }
  return false;
}

bool ControlBlock::try_claim(uint32_t idx, uint32_t *generation) {
  std::atomic<uint32_t> &gen = shared_->generation[idx];
  uint32_t cur = gen.load();
  if (held(idx, cur)) return false;
  uint32_t next = next_generation(cur);
  gen.store(next);
  // A client may have written its hold between the check and the bump.
  if (held(idx, cur)) {
    gen.store(cur);
    return false;
  }
  *generation = next;
  return true;
}

uint32_t ControlBlock::take_over_budget() { return slots_->over_budget.exchange(0); }

uint32_t ControlBlock::holders(uint32_t idx) const {
  uint32_t g = shared_->generation[idx].load(), out = 0;
  for (uint32_t mask = slots_->attached.load(); mask; mask &= mask - 1) {
    int slot = __builtin_ctz(mask);
    if (g != 0 && slot_holds(slot).generation[idx].load() == g) out |= 1u << slot;
  }
  return out;
}

bool ControlBlock::try_hold(uint32_t idx, uint32_t generation) {
  std::atomic<uint32_t> &mine = holds_->generation[idx];
  mine.store(generation);
  if (generation != 0 && shared_->generation[idx].load() == generation) return true;
  mine.store(0);
  return false;
}

void ControlBlock::release(uint32_t idx) { holds_->generation[idx].store(0, std::memory_order_release); }

uint32_t ControlBlock::generation(uint32_t idx) const { return shared_->generation[idx].load(std::memory_order_acquire); }

}  // namespace visionipc
