// RouteLogger: segment directories, logs with their sentinels, video files.
#include "loggerd/route_logger.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/clock.h"

namespace loggerd {

RouteLogger::RouteLogger(Writer &writer, std::string root, std::string route, ZstdLogOptions log_opts, InitBuilder init)
    : writer_(writer), root_(std::move(root)), route_(std::move(route)), log_opts_(log_opts), init_(std::move(init)) {}

RouteLogger::~RouteLogger() {
  if (open()) end_segment(true, 0);
}

void RouteLogger::start_segment(int number) {
  if (open()) throw std::logic_error("start_segment while segment " + std::to_string(segment_) + " is open");
  segment_ = number;
  path_ = root_ + "/" + route_ + "--" + std::to_string(number);
  std::error_code ec;
  std::filesystem::create_directories(path_, ec);
  if (ec) throw std::runtime_error("cannot create segment directory " + path_ + ": " + ec.message());
  rlog_ = std::make_unique<ZstdLogFile>(writer_, path_ + "/rlog.zst", log_opts_);
  qlog_ = std::make_unique<ZstdLogFile>(writer_, path_ + "/qlog.zst", log_opts_);
  cereal::MessageBuilder b;
  init_(b);
  size_t n = cereal::serialize(b, scratch_);
  uint64_t now = conduit::mono_ns();
  log(scratch_.data(), n, true, now);
  sentinel(number == 0 ? int(cereal::Sentinel::SentinelType::START_OF_ROUTE) : int(cereal::Sentinel::SentinelType::START_OF_SEGMENT), 0);
}

void RouteLogger::sentinel(int type, int signal) {
  cereal::MessageBuilder b;
  auto s = b.initEvent().initSentinel();
  s.setType(cereal::Sentinel::SentinelType(type));
  s.setSignal(signal);
  s.setSegmentNum(segment_);
  size_t n = cereal::serialize(b, scratch_);
  log(scratch_.data(), n, true, conduit::mono_ns());
}

void RouteLogger::end_segment(bool end_of_route, int signal) {
  if (!open()) return;
  sentinel(end_of_route ? int(cereal::Sentinel::SentinelType::END_OF_ROUTE) : int(cereal::Sentinel::SentinelType::END_OF_SEGMENT), signal);
  rlog_->close();
  qlog_->close();
  rlog_.reset();
  qlog_.reset();
  for (auto &[name, f] : videos_) writer_.close(f);
  videos_.clear();
}

void RouteLogger::log(const void *data, size_t size, bool qlog, uint64_t now_ns) {
  rlog_->write(data, size, now_ns);
  if (qlog) qlog_->write(data, size, now_ns);
  bytes_logged_ += size;
}

AppendFile *RouteLogger::video(const std::string &name) {
  auto it = videos_.find(name);
  if (it != videos_.end()) return it->second;
  AppendFile *f = writer_.open(path_ + "/" + name, true);
  videos_[name] = f;
  return f;
}

bool RouteLogger::video_gap(const std::string &name) {
  auto it = videos_.find(name);
  return it != videos_.end() && it->second->take_gap();
}

void RouteLogger::maybe_flush(uint64_t now_ns) {
  if (!open()) return;
  for (ZstdLogFile *l : {rlog_.get(), qlog_.get()}) {
    uint64_t before = l->frames();
    l->maybe_flush(now_ns);
    flushes_ += l->frames() - before;
  }
}

}  // namespace loggerd
