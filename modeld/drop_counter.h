#pragma once
// Frames skipped between processed ones (conflate keeps only the newest),
// as a percentage over a sliding window of processed frames.
#include <cstddef>
#include <cstdint>
#include <deque>

namespace modeld {

class DropCounter {
 public:
  explicit DropCounter(size_t window = 20) : window_(window) {}
  // Records a processed frame; returns the drop percentage over the window:
  // skipped / (skipped + processed). Frame ids going backwards (a camera
  // restart) count as no skip.
  float add(uint32_t frame_id);

 private:
  size_t window_;
  bool first_ = true;
  uint32_t last_ = 0;
  std::deque<uint32_t> skipped_;
  uint64_t skipped_sum_ = 0;
};

}  // namespace modeld
