#pragma once
// The acknowledged-handoff state of one stream, split so that no client can
// write more than its own share of it:
//
//   generations  one word per buffer, bumped every time the producer claims the
//                buffer for writing. A sealed memfd only the server can write
//                (F_SEAL_FUTURE_WRITE); clients map it read-only.
//   hold page    one per client connection, its own memfd: word i = the
//                generation of buffer i the client holds, 0 = none. Only that
//                client (and the server, read-only) maps it.
//
// A buffer is held when an attached client's word equals its current
// generation. The two sides meet Dekker-style with sequentially consistent
// operations: a client writes its hold and then re-reads the generation; the
// producer bumps the generation and then re-reads the holds (and puts the old
// generation back if it finds one). So a client either holds the very frame it
// was told about, or learns that it was overwritten; the producer never writes
// a buffer somebody holds.
//
// Trust: a client that claims more than kMaxHoldsPerClient buffers has all its
// holds ignored and is reported by take_over_budget(), so one client can never
// keep the producer from a free buffer; it can only lose its own frames.
// Closing a slot drops its holds at once (its page is replaced by zeros).
// Threads/processes: try_claim() from the producer thread, open_slot() and
// close_slot() from one other thread, the client calls from the client; all
// lock-free, no call blocks, only open_slot()/close_slot() make syscalls.
#include <atomic>
#include <cstdint>
#include <memory>

#include "visionipc/unique_fd.h"
#include "visionipc/visionipc.h"

namespace visionipc {

class ControlBlock {
 public:
  // Server: a new block in a fresh sealed memfd; all buffers free, generation 0.
  static ControlBlock create(uint64_t server_id, uint32_t num_buffers);
  // Client: maps a received block read-only and its own hold page read-write
  // (takes ownership of both fds); checks magic, version, server id and buffer
  // count. Throws Error saying what differs.
  static ControlBlock attach(int control_fd, int holds_fd, uint64_t server_id, uint32_t num_buffers);

  ControlBlock(ControlBlock &&o) noexcept;
  ControlBlock &operator=(ControlBlock &&o) noexcept;
  ~ControlBlock();

  int fd() const { return fd_.get(); }
  uint32_t num_buffers() const { return num_buffers_; }

  // Server: a fresh hold page for client `slot` (0..kMaxClientsPerStream-1);
  // returns the fd to send to that client. Throws Error if memory runs out.
  UniqueFd open_slot(int slot);
  // Server: the slot's client went away; its holds vanish.
  void close_slot(int slot);
  // Producer: claims buffer `idx` for writing if nobody holds it; returns its
  // new generation through `generation`. False when held.
  bool try_claim(uint32_t idx, uint32_t *generation);
  // Server: slots found holding more than kMaxHoldsPerClient buffers since the
  // last call (their holds were ignored).
  uint32_t take_over_budget();
  // Server: mask of the slots holding buffer idx at its current generation.
  uint32_t holders(uint32_t idx) const;

  // Client: holds `idx` if it is still at `generation`. False when the producer
  // has claimed it again since (the frame was overwritten).
  bool try_hold(uint32_t idx, uint32_t generation);
  void release(uint32_t idx);

  uint32_t generation(uint32_t idx) const;

 private:
  struct Shared;
  struct Holds;
  struct Slots;
  ControlBlock() = default;
  void unmap();
  const Holds &slot_holds(int slot) const;
  bool held(uint32_t idx, uint32_t generation) const;
  bool within_budget(int slot, uint32_t idx, uint32_t generation) const;

  UniqueFd fd_;
  Shared *shared_ = nullptr;
  uint32_t num_buffers_ = 0;
  Holds *holds_ = nullptr;         // client: its own hold page
  std::unique_ptr<Slots> slots_;   // server: every client's hold page, read-only
};

}  // namespace visionipc
