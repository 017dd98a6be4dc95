#pragma once
// One side of a benchmarked transport, as seen by one process. The harness
// (harness.h) runs the same ping-pong and throughput loops over every
// transport, so the numbers differ only by what the transport does.
//
// A message is `size` bytes whose first 8 bytes carry a sequence number; the
// rest is a fixed pattern. A transport may build the message in place (iceoryx
// loans shared memory) or copy it (msgq, zmq, futex_floor): each does what its
// own API makes natural for a user.
//
// Threads: one thread per transport. Errors: std::runtime_error naming the
// impl and what failed; the harness prints it and exits non-zero.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace msgq_bench {

struct SharedRegion;

// Channel 0 carries pings (and throughput traffic), channel 1 pongs; a process
// that only publishes or only subscribes leaves the other one at kNoChannel.
constexpr int kNoChannel = -1;

struct TransportConfig {
  int pub_channel = kNoChannel;  // channel this process publishes on
  int sub_channel = kNoChannel;  // channel this process subscribes to
  size_t size = 64;              // payload bytes (>= 8)
  std::string tag;               // unique per bench run, part of every topic/address name
  SharedRegion *shared = nullptr;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Publishes one message carrying `seq`. Never blocks for long.
  virtual void send(uint64_t seq) = 0;
  // Receives one message and stores its sequence number in `seq`.
  // timeout_ms: 0 = non-blocking (busy-poll), -1 = block, >0 = at most that long.
  // Returns false on timeout. Throws if a message has the wrong size.
  virtual bool receive(uint64_t &seq, int timeout_ms) = 0;
  // True when the transport counts the messages a subscriber lost, in lost().
  virtual bool reports_lost() const { return false; }
  virtual uint64_t lost() const { return 0; }
};

using TransportFactory = std::unique_ptr<Transport> (*)(const TransportConfig &);

// Reads the sequence number from a received payload, checking its size.
uint64_t read_seq(const char *impl, const void *data, size_t got, size_t want);

}  // namespace msgq_bench
