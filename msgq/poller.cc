// Poller::spin_then_poll: look for a message for a moment before sleeping (msgq.h).
#include "common/clock.h"
#include "msgq/msgq.h"

namespace msgq {
namespace {

// The clock is read once per kPollsPerClockRead looks, so a message that comes
// soon is taken without one.
constexpr unsigned kPollsPerClockRead = 32;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

const std::vector<SubSocket *> &Poller::spin_then_poll(int timeout_ms, uint64_t spin_ns) {
  uint64_t spin_until = 0;
  for (unsigned polls = 1; spin_ns > 0; ++polls) {
    const std::vector<SubSocket *> &ready = poll(0);
    if (!ready.empty()) return ready;
    cpu_relax();
    if (polls % kPollsPerClockRead == 0) {
      const uint64_t now = conduit::mono_ns();
      if (spin_until == 0) spin_until = now + spin_ns;
      else if (now >= spin_until) break;
    }
  }
  return poll(timeout_ms);
}

}  // namespace msgq
