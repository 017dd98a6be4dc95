#pragma once
// Thin wrappers over the futex syscalls msgq needs. Shared (not PRIVATE)
// futexes: the words live in shared memory and the waiters are other processes.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace msgq {

// Sleeps while *word == expected, at most timeout_ms (-1 = forever).
// Returns on wake, value change, timeout or signal (then true); the caller re-checks state.
bool futex_wait(std::atomic<uint32_t> *word, uint32_t expected, int timeout_ms);
void futex_wake_all(std::atomic<uint32_t> *word);

constexpr size_t kMaxWaitWords = 128;  // FUTEX_WAITV_MAX

// Sleeps until any words[i] != expected[i] or someone wakes it (futex_waitv,
// Linux >= 5.16). True when a signal ended the wait.
bool futex_wait_any(std::atomic<uint32_t> *const *words, const uint32_t *expected, size_t n, int timeout_ms);

}  // namespace msgq
