#include "common/ratekeeper.h"

#include <time.h>

#include <stdexcept>
#include <string>

#include "common/clock.h"
#include "msgq/msgq.h"

namespace conduit {

constexpr size_t kPeriods = 100;

RateKeeper::RateKeeper(double rate_hz) : lockstep_(msgq::lockstep_default()) {
  if (!(rate_hz > 0)) throw std::invalid_argument("RateKeeper: rate must be > 0 Hz, got " + std::to_string(rate_hz));
  interval_ns_ = uint64_t(1e9 / rate_hz);
}

bool RateKeeper::monitor(uint64_t now) {
  if (last_ns_ != 0) {
    const uint64_t period = now - last_ns_;
    if (periods_.size() < kPeriods) {
      periods_.push_back(period);
    } else {
      period_sum_ -= periods_[frame_ % kPeriods];
      periods_[frame_ % kPeriods] = period;
    }
    period_sum_ += period;
  }
  last_ns_ = now;
  if (next_ns_ == 0) next_ns_ = now + interval_ns_;
  const bool late = now > next_ns_;
  if (late) {
    lagged_frames_++;
    lag_ns_ += now - next_ns_;
    next_ns_ = now + interval_ns_;
    remaining_ns_ = 0;
  } else {
    remaining_ns_ = next_ns_ - now;
    next_ns_ += interval_ns_;
  }
  frame_++;
  return late;
}

bool RateKeeper::keep_time() {
  const bool late = monitor(mono_ns());
  if (remaining_ns_ > 0 && !lockstep_) {
    timespec ts = {time_t(remaining_ns_ / 1000000000), long(remaining_ns_ % 1000000000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
  }
  return late;
}

bool RateKeeper::lagging() const {
  return !periods_.empty() && double(period_sum_) / double(periods_.size()) > 1.1 * double(interval_ns_);
}

}  // namespace conduit
