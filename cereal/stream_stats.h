#pragma once
// The counters of one stream (a camera, an encoder output, the model's input, a
// video file) that its process publishes once a second as a StreamStats in its
// state service (cameradState, encoderdState, modeldState, loggerdState).
//
//   cereal::StreamCounters road;            // owned by the process, lives as long as it
//   road.frame(bytes, latency_ns);          // the stream's thread, per frame
//   road.dropped += n;                      // any thread
//   road.fill(stats_builder, "road");       // the publishing thread, once a second
//
// Threads: counting is lock-free (relaxed atomics) from any thread; fill() is
// called by one thread only (it keeps the window that fps and latencyMs cover).
#include <atomic>
#include <cstdint>

#include "cereal/gen/log.capnp.h"

namespace cereal {

class StreamCounters {
 public:
  StreamCounters();

  std::atomic<uint64_t> frames{0}, dropped{0}, bytes{0}, errors{0};
  std::atomic<uint32_t> queue_depth{0};

  // One frame or packet done: `latency_ns` is its processing time (0: not measured).
  void frame(uint64_t nbytes, uint64_t latency_ns = 0);
  // Writes the totals, and fps and mean latency since the previous fill() (or
  // since construction for the first).
  void fill(StreamStats::Builder out, const char *name);

 private:
  std::atomic<uint64_t> latency_ns_{0}, latency_count_{0};
  uint64_t window_start_ns_;
  uint64_t window_frames_ = 0, window_latency_ns_ = 0, window_latency_count_ = 0;
};

}  // namespace cereal
