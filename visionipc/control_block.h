#pragma once
// The acknowledged-handoff state of one stream, shared by the server and all its
// clients through a sealed memfd.
//
// Each buffer has one 64-bit word: the high 32 bits are the buffer's generation
// (bumped every time the producer claims it for writing), the low 32 bits are
// the holder mask (bit i = client slot i holds it). Both change only by
// compare-and-swap on the whole word, which is what makes the handoff safe:
//   producer claims   only when the mask is 0, and bumps the generation
//   client holds      only when the generation is the one announced
// so a client either holds the very frame it was told about, or learns that it
// was overwritten; the producer never writes a buffer somebody holds.
// Releasing clears a bit; the server clears all bits of a slot whose socket
// closed. Nothing here blocks or makes a syscall.
// Threads/processes: every operation is lock-free and safe from any of them.
#include <atomic>
#include <cstdint>

#include "visionipc/unique_fd.h"
#include "visionipc/visionipc.h"

namespace visionipc {

class ControlBlock {
 public:
  // Server: a new block in a fresh sealed memfd; all buffers free, generation 0.
  static ControlBlock create(uint64_t server_id, uint32_t num_buffers);
  // Client: maps a received block (takes ownership of fd) and checks magic,
  // version, server id and buffer count. Throws Error saying what differs.
  static ControlBlock attach(int fd, uint64_t server_id, uint32_t num_buffers);

  ControlBlock(ControlBlock &&o) noexcept;
  ControlBlock &operator=(ControlBlock &&o) noexcept;
  ~ControlBlock();

  int fd() const { return fd_.get(); }
  uint32_t num_buffers() const { return num_buffers_; }

  // Producer: claims buffer `idx` for writing if nobody holds it; returns its
  // new generation through `generation`. False when held.
  bool try_claim(uint32_t idx, uint32_t *generation);
  // Client in `slot`: holds `idx` if it is still at `generation`. False when the
  // producer has claimed it again since (the frame was overwritten).
  bool try_hold(uint32_t idx, uint32_t generation, int slot);
  void release(uint32_t idx, int slot);
  // Server: drops every hold of a slot (its client went away).
  void release_slot(int slot);

  uint32_t holders(uint32_t idx) const;  // holder mask of a buffer
  uint32_t generation(uint32_t idx) const;

 private:
  struct Shared;
  static Shared *map_shared(int fd);
  ControlBlock(UniqueFd fd, Shared *shared, uint32_t num_buffers) : fd_(std::move(fd)), shared_(shared), num_buffers_(num_buffers) {}
  std::atomic<uint64_t> &word(uint32_t idx) const;

  UniqueFd fd_;
  Shared *shared_ = nullptr;
  uint32_t num_buffers_ = 0;
};

}  // namespace visionipc
