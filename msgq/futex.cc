#include "msgq/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "msgq/msgq.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

namespace msgq {

static_assert(sizeof(std::atomic<uint32_t>) == 4 && std::atomic<uint32_t>::is_always_lock_free);

bool futex_wait(std::atomic<uint32_t> *word, uint32_t expected, int timeout_ms) {
  timespec ts, *tsp = nullptr;
  if (timeout_ms >= 0) {
    ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    tsp = &ts;
  }
  return syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, nullptr, 0) < 0 && errno == EINTR;
}

void futex_wake_all(std::atomic<uint32_t> *word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

bool futex_wait_any(std::atomic<uint32_t> *const *words, const uint32_t *expected, size_t n, int timeout_ms) {
  std::vector<futex_waitv> waiters(n);
  for (size_t i = 0; i < n; i++) {
    waiters[i] = {};
    waiters[i].val = expected[i];
    waiters[i].uaddr = reinterpret_cast<uintptr_t>(words[i]);
    waiters[i].flags = FUTEX_32;
  }
  timespec deadline, *dp = nullptr;
  if (timeout_ms >= 0) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
    dp = &deadline;
  }
  if (syscall(SYS_futex_waitv, waiters.data(), n, 0, dp, CLOCK_MONOTONIC) == 0) return false;
  if (errno == ENOSYS) throw Error("msgq Poller needs futex_waitv (Linux >= 5.16); this kernel does not have it");
  return errno == EINTR;
}

}  // namespace msgq
