#include "tools/replay/camera_server.h"

#include <chrono>

namespace replay {

CameraServer::CameraServer(VisionIpcServer &server, cereal::VideoId slot, Warn warn)
    : server_(server), slot_(slot), stream_(cereal::vision_stream(cereal::video(slot))), warn_(std::move(warn)) {
  thread_ = std::thread([this] { loop(); });
}

CameraServer::~CameraServer() {
  stop();
  thread_.join();
}

void CameraServer::stop() {
  {
    std::lock_guard lk(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
}

void CameraServer::push(std::shared_ptr<Segment> seg, uint32_t packet, const VisionIpcBufExtra &extra,
                        bool wait_for_buffers) {
  std::unique_lock lk(mutex_);
  cv_.wait(lk, [&] { return queue_.size() < kMaxQueued || stop_; });
  queue_.push_back({std::move(seg), packet, extra, wait_for_buffers, generation_});
  cv_.notify_all();
}

void CameraServer::wait_idle() {
  std::unique_lock lk(mutex_);
  cv_.wait(lk, [&] { return (queue_.empty() && !busy_) || stop_; });
}

void CameraServer::clear() {
  std::lock_guard lk(mutex_);
  queue_.clear();
  ++generation_;
  cv_.notify_all();
}

void CameraServer::loop() {
  std::unique_lock lk(mutex_);
  for (;;) {
    cv_.wait(lk, [&] { return !queue_.empty() || stop_; });
    if (stop_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    cv_.notify_all();
    lk.unlock();
    serve(job);
    lk.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

void CameraServer::serve(const Job &job) {
  FrameReader *reader = job.seg->video[size_t(slot_)].get();
  if (!reader) {
    ++dropped_;
    return;
  }
  VisionBuf *buf = server_.get_buffer(stream_);
  while (!buf && job.wait_for_buffers) {
    {
      std::lock_guard lk(mutex_);
      if (stop_) return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    buf = server_.get_buffer(stream_);
  }
  if (!buf) {
    ++dropped_;
    return;
  }
  try {
    if (size_t(reader->width()) != buf->width() || size_t(reader->height()) != buf->height()) {
      throw FrameError(reader->path() + " is " + std::to_string(reader->width()) + "x" +
                       std::to_string(reader->height()) + ", the stream was set up as " + std::to_string(buf->width()) +
                       "x" + std::to_string(buf->height()));
    }
    reader->get(job.packet, buf->frame());
  } catch (const FrameError &e) {
    ++errors_;
    if (warned_segment_ != job.seg->number) {
      warned_segment_ = job.seg->number;
      warn_("segment " + std::to_string(job.seg->number) + ": " + e.what());
    }
    return;
  }
  if (job.generation != generation_) return;  // a seek came while decoding
  server_.send(buf, &job.extra);
  last_frame_id_ = job.extra.frame_id;
  ++served_;
  reader->prefetch(job.packet + 1);
}

}  // namespace replay
