// libFuzzer target msgq_attach: the input is the whole shm file of a topic, as
// another process (or a corrupted one) left it. Attaching to it as subscriber
// and as publisher, receiving and sending must either work or throw
// msgq::Error; never crash, read outside the mapping or hang.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/prefix.h"
#include "common/testing/fuzz_prefix.h"
#include "msgq/msgq.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path = [] {
    testutil::use_fuzz_prefix("msgq_attach");
    setenv("ZMQ", "0", 1);
    return conduit::shm_path("fuzzed");
  }();
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, data, size) != ssize_t(size)) abort();
  close(fd);

  msgq::Message m;
  try {
    auto sub = msgq::SubSocket::create("fuzzed", {.ring_size = 4096});
    for (int i = 0; i < 8 && sub->receive(m, 0); i++) {
    }
  } catch (const msgq::Error &) {
  }
  try {
    auto pub = msgq::PubSocket::create("fuzzed", 4096);
    auto sub = msgq::SubSocket::create("fuzzed", {.ring_size = 4096});
    for (int i = 0; i < 3; i++) pub->send("message", 7);
    for (int i = 0; i < 8 && sub->receive(m, 0); i++) {
    }
  } catch (const msgq::Error &) {
  }
  unlink(path.c_str());
  return 0;
}
