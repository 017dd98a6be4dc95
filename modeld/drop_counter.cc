#include "modeld/drop_counter.h"

namespace modeld {

float DropCounter::add(uint32_t frame_id) {
  uint32_t skipped = first_ || frame_id <= last_ ? 0 : frame_id - last_ - 1;
  first_ = false;
  last_ = frame_id;
  skipped_.push_back(skipped);
  skipped_sum_ += skipped;
  if (skipped_.size() > window_) {
    skipped_sum_ -= skipped_.front();
    skipped_.pop_front();
  }
  return 100.0f * float(skipped_sum_) / float(skipped_sum_ + skipped_.size());
}

}  // namespace modeld
