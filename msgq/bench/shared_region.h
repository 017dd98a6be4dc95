#pragma once
// Memory the two benchmark processes share: an anonymous MAP_SHARED mapping
// made before fork(), so both see it at the same address. It holds the
// handshake flags of the harness and the two channels of futex_floor.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace msgq_bench {

// One single-slot mailbox of futex_floor: a futex word bumped per message,
// a count of sleepers (so a send with nobody asleep makes no syscall, as in
// msgq), then the payload.
struct alignas(64) FutexChannel {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> waiters{0};
  char *payload() { return reinterpret_cast<char *>(this) + 64; }
};

struct SharedRegion {
  // zmq_tcp: the port each channel's publisher bound (0 until bound).
  std::atomic<int> tcp_port[2];
  // Throughput handshake and results (written by the subscriber).
  std::atomic<uint32_t> sub_started, pub_done, sub_done;
  std::atomic<uint64_t> sent;
  uint64_t received, first_seq, last_seq, transport_lost;
  uint64_t first_ns, last_ns, sub_cpu_ns;
  bool reports_lost;

  size_t channel_stride;  // bytes from one FutexChannel to the next
  FutexChannel *channel(int i);

  // Maps a zeroed region with room for two channels of `payload_size` bytes.
  // Never freed: the processes exit right after the run.
  static SharedRegion *create(size_t payload_size);
};

}  // namespace msgq_bench
