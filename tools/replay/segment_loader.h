#pragma once
// SegmentLoader: loads a route's segments on a background thread, ahead of
// playback, holding at most `ahead + 2` of them in memory.
//
//   SegmentLoader loader(route, {cereal::VideoId::Road});
//   loader.set_current(i);                       // playback is at segment i
//   auto seg = loader.get(i, &error);            // waits; nullptr if damaged
//
// The loader keeps segments current .. current+ahead loaded, and keeps the one
// before current if it has it (a seek back over the boundary stays cheap); it
// drops the others (a player still holding one keeps it alive through its shared_ptr). A segment
// that fails to load is remembered as damaged with its error and never retried.
// Threads: every method may be called from any thread. get() blocks until the
// segment is loaded or failed, or until `cancel` (if given) returns true.
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/replay/route.h"
#include "tools/replay/segment.h"

namespace replay {

class SegmentLoader {
 public:
  SegmentLoader(const Route &route, std::vector<cereal::VideoId> videos, size_t ahead = 2);
  ~SegmentLoader();

  // Index into route.segments() of the segment playback is in.
  void set_current(size_t index);
  // The loaded segment, or nullptr when it is damaged (*error says why) or
  // when cancel() turned true while waiting (*error empty).
  std::shared_ptr<Segment> get(size_t index, std::string *error, const std::function<bool()> &cancel = {});
  // Segments held in memory right now (bounded by ahead + 2).
  size_t loaded_count() const;
  // Wakes waiters in get() so they re-check their cancel condition.
  void interrupt();

 private:
  void loop();
  bool in_window(size_t i) const { return i >= current_ && i <= current_ + ahead_; }
  bool kept(size_t i) const { return in_window(i) || i + 1 == current_; }

  const Route &route_;
  std::vector<cereal::VideoId> videos_;
  size_t ahead_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  size_t current_ = 0;
  bool stop_ = false;
  std::map<size_t, std::shared_ptr<Segment>> loaded_;
  std::map<size_t, std::string> failed_;
  std::thread thread_;
};

}  // namespace replay
