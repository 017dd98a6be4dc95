#pragma once
// Whether a service arrives at the rate its services table row promises, as
// openpilot's SubMaster judges it (its freq_ok):
//
//   f     = max(min(service Hz, update Hz), 1)     update Hz: the SubMaster's
//                                                  loop rate (its polled services)
//   polled service:      min = max = f
//   otherwise:           max = min(f, update Hz), and min = update Hz when the
//                        service is at least twice as fast as the loop, f when
//                        the loop is at least twice as fast, else f / 2
//   ok when the mean rate over the last 10 f intervals, or else over the last
//   f intervals, lies within [0.8 min, 1.2 max]; never before two receipts.
//
// One per service per SubMaster; not thread-safe. Times in ns, monotonic.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cereal {

class FrequencyTracker {
 public:
  FrequencyTracker() = default;
  FrequencyTracker(double service_hz, double update_hz, bool polled);
  void record(uint64_t t_ns);
  bool ok() const;
  double min_hz() const { return min_hz_; }
  double max_hz() const { return max_hz_; }

 private:
  // The mean of the last n intervals.
  struct Window {
    std::vector<double> dts;
    size_t next = 0, count = 0;
    double sum = 0;
    void add(double dt);
    double mean() const { return sum / double(count); }
  };
  bool within(double mean_dt) const;

  Window long_, recent_;
  double min_hz_ = 0, max_hz_ = 0;
  uint64_t prev_ns_ = 0;
};

}  // namespace cereal
