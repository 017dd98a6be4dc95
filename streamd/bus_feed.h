#pragma once
// The bus side of streamd, on its own thread (msgq waits on futexes, which
// epoll cannot): qRoadEncodeData packets become fMP4 fragments
// (Fmp4Fragmenter), once each, and a few status services become JSON
// (tools/mcap/event_json.h, the project's one JSON form of an Event; at most
// kStatusHz per service). Both are queued for the
// server's event loop; an eventfd tells it there is something to take.
// Threads: the constructor starts the thread, the destructor stops it; the
// other calls are for the loop thread and lock a mutex briefly.
// Errors: msgq errors at start throw msgq::Error; packets the fragmenter
// refuses are counted in bad_packets().
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace streamd {

struct LiveItem {
  enum Kind { kFragment, kStatus } kind;
  std::string data;       // fragment bytes, or the status JSON
  bool keyframe = false;  // kFragment
  int generation = 0;     // kFragment: the init segment it belongs to
  uint64_t received_ns = 0;
};

struct LiveInit {
  std::string init;  // ftyp + moov; empty until the first keyframe
  int generation = 0;
  uint64_t start_ns = 0;  // timestampSof of media time 0
};

class BusFeed {
 public:
  static constexpr double kStatusHz = 4.0;

  // video_service carries H.264 EncodeData (qRoadEncodeData).
  BusFeed(const std::string &video_service, const std::vector<std::string> &status_services);
  ~BusFeed();
  BusFeed(const BusFeed &) = delete;
  BusFeed &operator=(const BusFeed &) = delete;

  int event_fd() const { return event_fd_; }
  // Everything queued since the last call, oldest first (clears the eventfd).
  std::vector<LiveItem> take();
  LiveInit init() const;
  // The newest status JSON of every service seen so far (for a page that just connected).
  std::vector<std::string> latest_status() const;
  uint64_t bad_packets() const { return bad_packets_; }

 private:
  void run(std::string video_service, std::vector<std::string> status_services);
  void push(LiveItem item);

  int event_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bad_packets_{0};
  mutable std::mutex mutex_;
  std::vector<LiveItem> queue_;
  LiveInit init_;
  std::vector<std::pair<std::string, std::string>> latest_;  // service, JSON
  std::thread thread_;
};

}  // namespace streamd
