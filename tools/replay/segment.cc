#include "tools/replay/segment.h"

#include <algorithm>
#include <filesystem>

namespace replay {

std::shared_ptr<Segment> Segment::load(const SegmentFiles &files, const std::vector<cereal::VideoId> &videos) {
  auto seg = std::make_shared<Segment>();
  seg->number = files.number;
  seg->log_ = LogFile::read(files.log);
  std::string log_name = std::filesystem::path(files.log).filename().string();
  if (!seg->log_.damage().empty()) {
    seg->warnings.push_back(seg->log_.damage());
  }
  seg->events = seg->log_.events();
  if (seg->events.front().which != cereal::Event::INIT_DATA) {
    seg->warnings.push_back(log_name + " does not start with initData (found " +
                            std::string(seg->events.front().service) + ")");
  }
  std::stable_sort(seg->events.begin(), seg->events.end(),
                   [](const LogEvent &a, const LogEvent &b) { return a.mono_time < b.mono_time; });

  for (cereal::VideoId slot : videos) {
    const cereal::Video &cam = cereal::video(slot);
    size_t indexed = std::count_if(seg->events.begin(), seg->events.end(),
                                   [&](const LogEvent &e) { return e.which == cam.idx_which; });
    std::string path = files.file(cam.file);
    if (!std::filesystem::exists(path)) {
      if (indexed) seg->warnings.push_back(std::string(cam.file) + " is missing: no " + cam.name + " frames");
      continue;
    }
    try {
      seg->video[size_t(slot)] = std::make_unique<FrameReader>(path);
      if (seg->video[size_t(slot)]->size() != indexed) {
        seg->warnings.push_back(std::string(cam.file) + " has " + std::to_string(seg->video[size_t(slot)]->size()) +
                                " frames, " + std::string(service_name(cam.idx_which)) + " lists " +
                                std::to_string(indexed));
      }
    } catch (const FrameError &e) {
      seg->warnings.push_back(std::string(e.what()) + ": no " + cam.name + " frames");
    }
  }
  return seg;
}

size_t Segment::find(uint64_t t) const {
  return std::lower_bound(events.begin(), events.end(), t,
                          [](const LogEvent &e, uint64_t v) { return e.mono_time < v; }) -
         events.begin();
}

}  // namespace replay
