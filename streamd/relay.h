#pragma once
// Fan-out of a live stream to many sockets without copying it per client in
// user space. A fragment is written once into the feed pipe; for every client
// tee(2) duplicates the feed's page references into the client's own pipe
// (its backlog), and splice(2) moves from there into the client's socket as
// far as the socket takes. Nothing is read back into user space; the feed is
// emptied by splicing it into /dev/null.
//
// A client starts at a keyframe. One whose backlog cannot take a fragment (a
// slow reader: its pipe and socket buffer are full) skips fragments up to the
// next keyframe that fits; one that takes nothing for `stall_ns` is dropped.
// Neither ever delays the others or the caller.
//
// The competitor, for the benchmark only (copy_per_client): each fragment is
// written to each client's socket from user space, and what a socket does not take is
// kept in a per-client buffer; the same slow-client rules, counted in bytes.
//
// Ownership: the caller owns the sockets (non-blocking); the relay owns the
// pipes. Threads: one thread. Errors: publish() and flush() report sockets to
// close (peer gone, stalled, or a pipe error) in their return value.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace streamd {

struct RelayStats {
  uint64_t fragments = 0, fragment_bytes = 0;  // published (written once each)
  uint64_t teed_bytes = 0, spliced_bytes = 0;  // into clients' pipes, into their sockets
  uint64_t skipped = 0;                        // fragments a slow client did not get
  uint64_t dropped_clients = 0;                // stalled (or, never expected, given part of a fragment)
  uint64_t gone_clients = 0;                   // sockets that failed: the peer left
};

class Relay {
 public:
  explicit Relay(uint64_t stall_ns = 5'000'000'000ull, int client_pipe_bytes = 256 * 1024, bool copy_per_client = false);
  ~Relay();
  Relay(const Relay &) = delete;
  Relay &operator=(const Relay &) = delete;

  // Starts feeding `sock` at the next keyframe. False when no pipe could be made.
  bool add(int sock);
  void remove(int sock);
  size_t clients() const { return clients_.size(); }

  // Sends one fragment to every client. Returns the sockets to close.
  std::vector<int> publish(std::string_view fragment, bool keyframe, uint64_t now_ns);
  // `sock` became writable: moves what its pipe holds. False: close it.
  bool flush(int sock, uint64_t now_ns);
  // Drops clients that took nothing for stall_ns; returns their sockets.
  std::vector<int> expire(uint64_t now_ns);

  const RelayStats &stats() const { return stats_; }

 private:
  struct Client {
    int sock, pipe_r, pipe_w;       // pipes: -1 when copying per client
    size_t slots;                   // pages the pipe holds
    std::deque<uint64_t> queued;    // lengths of the fragments in the pipe, oldest first
    uint64_t sent_of_front = 0;     // bytes of queued.front() already in the socket
    bool waiting_for_keyframe = true;
    uint64_t last_progress_ns = 0;
    std::string copy;               // copy_per_client: bytes the socket has not taken yet
  };
  size_t slots_used(const Client &c) const;
  bool drain(Client &c, uint64_t now_ns);  // splice pipe -> socket; false on error
  bool fits(const Client &c, size_t bytes) const;
  bool send_copy(Client &c, std::string_view data, uint64_t now_ns);  // the competitor's drain

  std::unordered_map<int, Client> clients_;
  int feed_r_ = -1, feed_w_ = -1, null_fd_ = -1;
  uint64_t stall_ns_;
  int client_pipe_bytes_;
  bool copy_;
  size_t page_;
  RelayStats stats_;
};

}  // namespace streamd
