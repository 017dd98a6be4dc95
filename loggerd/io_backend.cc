// Backend selection: io_uring unless forced or refused (see io_backend.h).
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "loggerd/io_backend.h"

namespace loggerd {
namespace {

// A non-negative integer from the environment up to `max`; `fallback` when unset.
int64_t env_count(const char *name, int64_t fallback, int64_t max) {
  const char *v = getenv(name);
  if (!v || !*v) return fallback;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (*end || x < 0 || x > max)
    throw std::invalid_argument(std::string(name) + ": expected an integer in 0.." + std::to_string(max) + ", found '" + v + "'");
  return x;
}

}  // namespace

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
  if (mode != "auto" && mode != "io_uring" && mode != "io_uring_sqpoll")
    throw std::invalid_argument("LOGGERD_IO: expected io_uring, io_uring_sqpoll or pwrite, found '" + mode + "'");
  std::string why;
  if (mode == "io_uring_sqpoll") {
    SqpollOptions o;
    o.idle_ms = unsigned(env_count("LOGGERD_SQPOLL_IDLE_MS", o.idle_ms, 1u << 30));
    o.cpu = int(env_count("LOGGERD_SQPOLL_CPU", o.cpu, 4096));
    if (auto b = create_uring_backend(buffers, &why, &o)) return b;
    fprintf(stderr, "loggerd: io_uring SQPOLL refused (%s), using io_uring without it\n", why.c_str());
    mode = "auto";
  }
  auto b = create_uring_backend(buffers, &why);
  if (b) return b;
  if (mode == "io_uring") throw std::runtime_error("io_uring requested but refused: " + why);
  fprintf(stderr, "loggerd: io_uring unavailable (%s), falling back to pwrite\n", why.c_str());
  return create_pwrite_backend();
}

}  // namespace loggerd
