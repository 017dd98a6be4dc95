#pragma once
// CameraServer: serves one camera stream of a replay over VisionIPC, the way
// camerad does live. The player hands it "show packet p of segment s as frame f"
// jobs; its thread decodes (FrameReader), writes the pixels straight into a
// VisionIPC buffer and announces it. After each frame it decodes the next packet
// ahead, so at 1x the decode is done before the frame is due.
//
// Back-pressure: in real-time mode a frame whose buffers are all held by clients
// is dropped and counted (as camerad drops). With wait_for_buffers (--fast) it
// waits for a client to release one: replay runs as fast as consumers take it.
// Threads: push()/wait_idle()/counters from the player thread; one worker inside.
// Errors: a frame that does not decode is counted in errors() and reported
// through the warning callback, once per segment; playback goes on.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tools/replay/segment.h"
#include "visionipc/visionipc_server.h"

namespace replay {

class CameraServer {
 public:
  using Warn = std::function<void(const std::string &)>;
  CameraServer(VisionIpcServer &server, cereal::VideoId slot, Warn warn);
  ~CameraServer();

  // Queues one frame; blocks while `max_queued` jobs are already waiting.
  void push(std::shared_ptr<Segment> seg, uint32_t packet, const VisionIpcBufExtra &extra, bool wait_for_buffers);
  // Waits until every queued frame has been served (or dropped).
  void wait_idle();
  // Drops queued frames, and the one being decoded is not sent (after a seek:
  // no frame from before it may arrive after it).
  void clear();
  // Gives up waiting for buffers and makes push()/wait_idle() return at once;
  // called before the player thread is joined.
  void stop();

  uint64_t served() const { return served_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t errors() const { return errors_; }
  // Frame id of the last frame served (for status and tests).
  uint32_t last_frame_id() const { return last_frame_id_; }

 private:
  struct Job {
    std::shared_ptr<Segment> seg;
    uint32_t packet;
    VisionIpcBufExtra extra;
    bool wait_for_buffers;
    uint64_t generation;
  };
  void loop();
  void serve(const Job &job);

  static constexpr size_t kMaxQueued = 2;
  VisionIpcServer &server_;
  cereal::VideoId slot_;
  VisionStreamType stream_;
  Warn warn_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool busy_ = false, stop_ = false;
  std::atomic<uint64_t> generation_{0};  // bumped by clear()
  int warned_segment_ = -1;
  std::atomic<uint64_t> served_{0}, dropped_{0}, errors_{0};
  std::atomic<uint32_t> last_frame_id_{0};
  std::thread thread_;
};

}  // namespace replay
