#pragma once
// Steady frame pacing from absolute CLOCK_MONOTONIC deadlines: tick k is due at
// start + k * 1e9 / fps nanoseconds, computed from k (never by adding periods),
// and waited for with clock_nanosleep(TIMER_ABSTIME). Late wake-ups do not
// shift later ticks, so there is no drift however long it runs.
//
// When the caller falls more than a whole period behind, the missed ticks are
// skipped (and counted) instead of being delivered in a burst.
// Threads: one thread per Pacer. stop() may be called from any thread or a
// signal handler; it makes wait() return false within one tick.
#include <atomic>
#include <cstdint>

namespace camerad {

struct Tick {
  uint64_t index;     // tick number k since start
  uint64_t deadline;  // when it was due (CLOCK_MONOTONIC ns)
  uint64_t woke;      // when wait() returned
};

class Pacer {
 public:
  // Throws std::invalid_argument unless 0 < fps <= 1000.
  explicit Pacer(int fps, uint64_t start_ns = 0);  // start_ns 0 = now

  // Sleeps until the next tick is due. Returns false once stop() was called.
  bool wait(Tick &tick);
  void stop() { stopped_ = true; }
  uint64_t skipped() const { return skipped_; }
  uint64_t deadline(uint64_t index) const;

 private:
  int fps_;
  uint64_t start_;
  uint64_t next_ = 0;
  uint64_t skipped_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace camerad
