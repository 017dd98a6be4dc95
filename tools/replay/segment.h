#pragma once
// Segment: one loaded segment — its events in time order and a FrameReader per
// video that replay serves.
//
//   auto seg = Segment::load(route.segments()[0], {cereal::VideoId::Road});
//   for (const LogEvent &e : seg->events) ...
//
// Ownership: events point into the segment's LogFile; keep the Segment (it is
// shared_ptr-held by the loader and the players) while using them.
// Threads: load() runs on the loader thread; afterwards events are read-only and
// each FrameReader is used by one camera thread at a time.
// Errors: a log that cannot be read or holds no intact event throws LogError —
// replay skips the segment. A log damaged part way keeps its intact events and
// says so in warnings. A missing or undecodable video only disables that camera
// for the segment and is listed in warnings.
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "cereal/streams.h"
#include "tools/replay/frame_reader.h"
#include "tools/replay/log_file.h"
#include "tools/replay/route.h"

namespace replay {

class Segment {
 public:
  // videos: which camera slots to open.
  static std::shared_ptr<Segment> load(const SegmentFiles &files, const std::vector<cereal::VideoId> &videos);

  int number = 0;
  std::vector<LogEvent> events;  // stable-sorted by logMonoTime
  std::array<std::unique_ptr<FrameReader>, cereal::kVideos.size()> video;
  std::vector<std::string> warnings;

  uint64_t start_mono() const { return events.front().mono_time; }
  uint64_t end_mono() const { return events.back().mono_time; }
  // First event at or after mono time t (events.size() if none).
  size_t find(uint64_t t) const;

 private:
  LogFile log_;
};

}  // namespace replay
