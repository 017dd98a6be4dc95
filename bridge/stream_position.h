#pragma once
// Where a receiving bridge is in a peer's stream of one service: the next
// sequence number it expects, kept in a file of the prefix's shm directory
// (<service>.bridge_in, 0600) that outlives the process. A bridge that is
// killed and started again resumes from there (ZmqSubSocket::resume_from), so
// what it missed while down counts in lost() (exactly, but for the one message
// a kill may catch between its relay and store()). A bridge that stops
// cleanly removes the file: a deliberate stop loses nothing by accident.
// A record of another peer is ignored and replaced.
// Threads: store() from one thread at a time. Errors: std::runtime_error when
// the file cannot be made or mapped.
#include <cstdint>
#include <optional>
#include <string>

namespace bridge {

class StreamPosition {
 public:
  StreamPosition(const std::string &service, const std::string &peer);
  ~StreamPosition();
  StreamPosition(const StreamPosition &) = delete;
  StreamPosition &operator=(const StreamPosition &) = delete;

  // The next sequence number the previous bridge of this peer expected, if it
  // did not stop cleanly.
  std::optional<uint64_t> resumed() const { return resumed_; }
  void store(uint64_t next_seq);
  void remove();

 private:
  struct Record;
  std::string path_;
  Record *rec_;
  std::optional<uint64_t> resumed_;
};

}  // namespace bridge
