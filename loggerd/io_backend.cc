// Backend selection: io_uring unless forced or refused (see io_backend.h).
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "loggerd/io_backend.h"

namespace loggerd {

void sleep_until(uint64_t ns) {
  timespec ts = {time_t(ns / 1000000000), long(ns % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

std::unique_ptr<IoBackend> create_backend(const std::vector<iovec> &buffers, const std::string &mode_in) {
  std::string mode = mode_in;
  if (mode == "auto") {
    const char *env = getenv("LOGGERD_IO");
    if (env && *env) mode = env;
  }
  if (mode == "pwrite") return create_pwrite_backend();
  if (mode != "auto" && mode != "io_uring")
    throw std::invalid_argument("LOGGERD_IO: expected io_uring or pwrite, found '" + mode + "'");
  std::string why;
  auto b = create_uring_backend(buffers, &why);
  if (b) return b;
  if (mode == "io_uring") throw std::runtime_error("io_uring requested but refused: " + why);
  fprintf(stderr, "loggerd: io_uring unavailable (%s), falling back to pwrite\n", why.c_str());
  return create_pwrite_backend();
}

}  // namespace loggerd
