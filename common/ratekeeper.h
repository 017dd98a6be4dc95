#pragma once
// Runs a loop at a fixed rate and accounts for the time it falls behind.
//
//   conduit::RateKeeper rk(20);
//   while (running) { work(); rk.keep_time(); }  // sleeps to the next tick
//
// A late iteration does not make the next ones rush to catch up: the schedule
// restarts one interval after it. lagged_frames() counts late iterations,
// lag_ns() sums how late they were, lagging() says the last 100 took over 10%
// too long. In lockstep (msgq.h; process replay) it never sleeps: the input
// paces the process, not the clock. One thread; common/ratekeeper.py is the
// Python side, same rules.
#include <cstdint>
#include <vector>

namespace conduit {

class RateKeeper {
 public:
  explicit RateKeeper(double rate_hz);  // std::invalid_argument for rate <= 0
  // Sleeps until the next tick; true when this iteration came late.
  bool keep_time();
  // keep_time()'s accounting at now_ns without sleeping: true when late.
  bool monitor(uint64_t now_ns);
  uint64_t remaining_ns() const { return remaining_ns_; }  // to sleep after the last iteration
  uint64_t frame() const { return frame_; }
  uint64_t lagged_frames() const { return lagged_frames_; }
  uint64_t lag_ns() const { return lag_ns_; }
  bool lagging() const;

 private:
  uint64_t interval_ns_, next_ns_ = 0, last_ns_ = 0, remaining_ns_ = 0;
  uint64_t frame_ = 0, lagged_frames_ = 0, lag_ns_ = 0;
  std::vector<uint64_t> periods_;  // of the last 100 iterations, a ring
  uint64_t period_sum_ = 0;
  bool lockstep_;
};

}  // namespace conduit
