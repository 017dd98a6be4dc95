#include "msgq/bench/transport.h"

#include <cstring>
#include <stdexcept>

namespace msgq_bench {

uint64_t read_seq(const char *impl, const void *data, size_t got, size_t want) {
  if (got != want) {
    throw std::runtime_error(std::string(impl) + ": received a message of " + std::to_string(got) +
                             " bytes, expected " + std::to_string(want));
  }
  uint64_t seq;
  memcpy(&seq, data, sizeof(seq));
  return seq;
}

}  // namespace msgq_bench
