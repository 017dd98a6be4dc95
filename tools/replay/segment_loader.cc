#include "tools/replay/segment_loader.h"

namespace replay {

SegmentLoader::SegmentLoader(const Route &route, std::vector<cereal::VideoId> videos, size_t ahead)
    : route_(route), videos_(std::move(videos)), ahead_(ahead) {
  thread_ = std::thread([this] { loop(); });
}

SegmentLoader::~SegmentLoader() {
  {
    std::lock_guard lk(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SegmentLoader::set_current(size_t index) {
  {
    std::lock_guard lk(mutex_);
    if (index == current_) return;
    current_ = index;
    for (auto it = loaded_.begin(); it != loaded_.end();) {
      it = kept(it->first) ? std::next(it) : loaded_.erase(it);
    }
  }
  cv_.notify_all();
}

void SegmentLoader::interrupt() {
  std::lock_guard lk(mutex_);
  cv_.notify_all();
}

std::shared_ptr<Segment> SegmentLoader::get(size_t index, std::string *error, const std::function<bool()> &cancel) {
  std::unique_lock lk(mutex_);
  for (;;) {
    if (auto it = loaded_.find(index); it != loaded_.end()) return it->second;
    if (auto it = failed_.find(index); it != failed_.end()) {
      if (error) *error = it->second;
      return nullptr;
    }
    if (index >= route_.segments().size()) {
      if (error) *error = "no segment #" + std::to_string(index);
      return nullptr;
    }
    if (stop_ || (cancel && cancel())) {
      if (error) error->clear();
      return nullptr;
    }
    if (!in_window(index)) {
      // Asked for a segment outside the window: move the window there.
      current_ = index;
      cv_.notify_all();
    }
    cv_.wait(lk);
  }
}

size_t SegmentLoader::loaded_count() const {
  std::lock_guard lk(mutex_);
  return loaded_.size();
}

void SegmentLoader::loop() {
  std::unique_lock lk(mutex_);
  while (!stop_) {
    size_t next = SIZE_MAX;
    for (size_t i = current_; i <= current_ + ahead_ && i < route_.segments().size(); ++i) {
      if (!loaded_.count(i) && !failed_.count(i)) {
        next = i;
        break;
      }
    }
    if (next == SIZE_MAX) {
      cv_.wait(lk);
      continue;
    }
    SegmentFiles files = route_.segments()[next];
    lk.unlock();
    std::shared_ptr<Segment> seg;
    std::string error;
    try {
      seg = Segment::load(files, videos_);
    } catch (const std::exception &e) {
      error = e.what();
    }
    lk.lock();
    if (!seg) failed_[next] = error;
    else if (kept(next)) loaded_[next] = std::move(seg);
    cv_.notify_all();
  }
}

}  // namespace replay
