#pragma once
// Replay: plays a recorded route back into the bus as if it were live.
//
//   ReplayOptions o;
//   o.route = "2026-11-24--18-50-00";
//   Replay r(o);            // opens the route, loads the first segment, starts VisionIPC
//   r.start();
//   r.wait_finished();
//
// Every logged Event is republished unchanged (same bytes, same logMonoTime) on
// its service's msgq topic, in log order, spaced by the logged CLOCK_MONOTONIC
// deltas divided by the speed. Camera frames are decoded from the segment
// videos and served over VisionIPC (server "camerad", streams road / wideRoad /
// driver) when their EncodeIndex event comes up, with the logged frame id and
// timestamps, so consumers cannot tell replay from a live camera.
// Route time t is seconds since the first event of the route's first segment.
//
// Threads: start() runs the player on its own thread; the controls (pause,
// seek, speed, stop) and the getters may be called from any thread.
// Errors: the constructor throws std::runtime_error subclasses for a bad route,
// an unknown service in allow/block, or a route whose segments are all damaged.
// While playing, damaged segments and undecodable frames are reported through
// on_warning and skipped.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "msgq/msgq.h"
#include "tools/replay/camera_server.h"
#include "tools/replay/route.h"
#include "tools/replay/segment_loader.h"
#include "visionipc/visionipc_server.h"

namespace replay {

struct ReplayOptions {
  std::string route;                // log spec (route.h): name under data_dir, path, /a:b range
  std::string data_dir;             // "" = default_data_dir()
  double start = 0;                 // route seconds
  double speed = 1;                 // 0 = as fast as consumers take it; else 0.1 .. 10
  std::vector<std::string> allow;   // publish only these services (empty = all)
  std::vector<std::string> block;   // never publish these
  bool vipc = true;                 // serve camera frames
  bool qcam = false;                // serve qcamera.ts as the road stream instead of fcamera.hevc
  bool loop = false;                // start over at the end
  bool qlog = false;                // play qlog instead of rlog
  size_t load_ahead = 2;            // segments loaded ahead of playback
  size_t vipc_buffers = 6;          // VisionIPC buffers per stream
  // Warnings while playing (damaged segment, undecodable frame), from the
  // constructor, the player and the camera threads. Default: print to stderr.
  std::function<void(const std::string &)> on_warning;
};

struct ReplayStats {
  uint64_t messages = 0, bytes = 0;
  uint64_t frames = 0, frames_dropped = 0, frame_errors = 0;
  uint64_t segments_skipped = 0;
  double wall_seconds = 0;          // since start(), paused time included
  double route_seconds = 0;         // route time played (sum over loops and seeks)
};

class Replay {
 public:
  static constexpr double kMinSpeed = 0.1, kMaxSpeed = 10;

  explicit Replay(ReplayOptions opts);
  ~Replay();

  void start();
  void stop();
  // Waits for the end of the route (never returns with loop, unless stopped).
  // At the end the player stays: a seek plays again, stop() ends it.
  void wait_finished();
  bool finished() const { return finished_; }

  void pause(bool paused);
  bool paused() const { return paused_; }
  void seek_to(double seconds);
  void seek_by(double seconds) { seek_to(current_seconds() + seconds); }
  // Clamped to kMinSpeed..kMaxSpeed; 0 means fast.
  void set_speed(double speed);
  double speed() const { return speed_; }

  double current_seconds() const;
  double duration_seconds() const { return duration_ns_.load() * 1e-9; }
  int current_segment() const { return current_segment_; }  // segment number
  const Route &route() const { return route_; }
  ReplayStats stats() const;
  // VisionIPC streams served (empty with vipc = false).
  std::vector<VisionStreamType> streams() const;

 private:
  struct Playhead;
  // The playback thread: controls, then the next segment or event, until stop().
  void run();
  bool take_controls(Playhead &p);  // false: paused (waited), look again
  bool open_segment(Playhead &p);   // false: none to play yet, look again
  void wait_at_the_end();
  void finish();
  void play_event(Playhead &p);
  bool allowed(cereal::Event::Which which) const { return allowed_[size_t(which)]; }
  // Index of the segment that holds route mono time t.
  size_t segment_at(uint64_t t) const;
  // Sleeps until wall time `deadline_ns`; false if a control interrupted it.
  bool wait_until(uint64_t deadline_ns);
  // With mutex_ held.
  bool control_pending() const { return seek_target_.has_value() || stop_ || paused_ || speed_changed_; }
  void publish(const LogEvent &e);
  void serve_frame(const std::shared_ptr<Segment> &seg, const LogEvent &e, cereal::VideoId slot);
  void warn(const std::string &msg);

  ReplayOptions opts_;
  Route route_;
  std::vector<uint64_t> segment_start_;  // first logMonoTime per segment (0: unknown, damaged)
  uint64_t route_start_ = 0;
  std::atomic<uint64_t> duration_ns_{0};
  std::atomic<uint64_t> finish_wall_{0};
  std::vector<bool> allowed_;
  std::array<int, 64> camera_for_which_;  // Event::Which -> cereal::VideoId served, or -1

  std::unique_ptr<SegmentLoader> loader_;
  std::unique_ptr<VisionIpcServer> vipc_;
  std::vector<std::unique_ptr<CameraServer>> cameras_;  // indexed by cereal::VideoId, null if not served
  std::map<cereal::Event::Which, std::unique_ptr<msgq::PubSocket>> pubs_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<uint64_t> seek_target_;  // route mono time
  std::atomic<bool> stop_{false}, paused_{false}, finished_{false};
  bool speed_changed_ = false;
  std::atomic<double> speed_;
  std::atomic<uint64_t> current_mono_{0};
  std::atomic<int> current_segment_{0};
  std::atomic<uint64_t> messages_{0}, bytes_{0}, skipped_{0}, played_ns_{0};
  uint64_t start_wall_ = 0;
  std::set<int> reported_;  // segments whose problems were reported (player thread after start())
  std::thread thread_;
};

}  // namespace replay
