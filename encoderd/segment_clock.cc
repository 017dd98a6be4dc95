#include "encoderd/segment_clock.h"

#include <stdexcept>

namespace encoderd {

SegmentClock::SegmentClock(uint32_t frames_per_segment) : n_(frames_per_segment) {
  if (n_ == 0) throw std::invalid_argument("segment clock: expected at least 1 frame per segment, got 0");
}

std::optional<SegmentPosition> SegmentClock::locate(uint32_t frame_id, uint64_t epoch) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = runs_.find(epoch);
  if (it == runs_.end()) {
    uint32_t first = any_ ? highest_segment_ + 1 : 0;
    it = runs_.emplace(epoch, Run{frame_id, first}).first;
  }
  const Run &run = it->second;
  if (frame_id < run.origin) return std::nullopt;
  uint32_t offset = frame_id - run.origin;
  SegmentPosition pos{run.first_segment + offset / n_, offset % n_};
  if (!any_ || pos.segment > highest_segment_) highest_segment_ = pos.segment;
  any_ = true;
  return pos;
}

}  // namespace encoderd
