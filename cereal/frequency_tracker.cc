#include "cereal/frequency_tracker.h"

#include <algorithm>

namespace cereal {

FrequencyTracker::FrequencyTracker(double service_hz, double update_hz, bool polled) {
  const double f = std::max(std::min(service_hz, update_hz), 1.0);
  double lo = f, hi = f;
  if (!polled) {
    hi = std::min(f, update_hz);
    if (service_hz >= 2 * update_hz) lo = update_hz;
    else if (update_hz >= 2 * service_hz) lo = f;
    else lo = f / 2;
  }
  min_hz_ = 0.8 * lo;
  max_hz_ = 1.2 * hi;
  long_.dts.resize(std::max<size_t>(1, size_t(10 * f)));
  recent_.dts.resize(std::max<size_t>(1, size_t(f)));
}

void FrequencyTracker::Window::add(double dt) {
  if (count == dts.size()) {
    sum -= dts[next];
  } else {
    ++count;
  }
  dts[next] = dt;
  sum += dt;
  if (++next == dts.size()) next = 0;
}

void FrequencyTracker::record(uint64_t t_ns) {
  if (prev_ns_ != 0 && t_ns >= prev_ns_) {
    const double dt = double(t_ns - prev_ns_) * 1e-9;
    long_.add(dt);
    recent_.add(dt);
  }
  prev_ns_ = t_ns;
}

bool FrequencyTracker::within(double mean_dt) const {
  if (mean_dt <= 0) return false;
  const double hz = 1.0 / mean_dt;
  return hz >= min_hz_ && hz <= max_hz_;
}

bool FrequencyTracker::ok() const {
  if (long_.count == 0) return false;
  return within(long_.mean()) || within(recent_.mean());
}

}  // namespace cereal
