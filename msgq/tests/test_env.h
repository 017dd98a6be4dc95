#pragma once
// Helpers shared by the msgq tests: a checksummed payload format and a pipe
// that says "ready" across fork; the prefix, child and wait helpers of common/testing.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/testing/child.h"
#include "common/testing/prefix.h"
#include "common/testing/wait.h"

namespace msgq_test {

using testutil::Child;
using testutil::ScopedPrefix;
using testutil::wait_for;

// payload = seq (8 bytes) | checksum (8 bytes) | filler derived from seq,
// written at p (size >= 16): into a vector, or in place into a loan.
inline void fill_payload(char *p, uint64_t seq, size_t size) {
  for (size_t i = 16; i < size; i++) p[i] = char((seq * 131 + i * 7) & 0xff);
  uint64_t sum = seq * 0x9e3779b97f4a7c15ull;
  for (size_t i = 16; i < size; i++) sum = (sum ^ uint8_t(p[i])) * 1099511628211ull;
  memcpy(p, &seq, 8);
  memcpy(p + 8, &sum, 8);
}

inline std::vector<char> make_payload(uint64_t seq, size_t size) {
  std::vector<char> p(std::max<size_t>(size, 16));
  fill_payload(p.data(), seq, p.size());
  return p;
}

inline bool check_payload(const char *data, size_t size, uint64_t *seq_out) {
  if (size < 16) return false;
  uint64_t seq, sum;
  memcpy(&seq, data, 8);
  memcpy(&sum, data + 8, 8);
  uint64_t want = seq * 0x9e3779b97f4a7c15ull;
  for (size_t i = 16; i < size; i++) want = (want ^ uint8_t(data[i])) * 1099511628211ull;
  *seq_out = seq;
  return want == sum;
}

// A pipe used to say "ready" (or another byte) across fork.
struct Signal {
  int fds[2];
  Signal() {
    if (pipe(fds) != 0) abort();
  }
  ~Signal() {
    close(fds[0]);
    close(fds[1]);
  }
  void post(char c = 1) {
    if (write(fds[1], &c, 1) != 1) abort();
  }
  char wait() {
    char c;
    if (read(fds[0], &c, 1) != 1) abort();
    return c;
  }
};

}  // namespace msgq_test
