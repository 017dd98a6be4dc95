#include "cereal/stream_stats.h"

#include "common/clock.h"

namespace cereal {

StreamCounters::StreamCounters() : window_start_ns_(conduit::mono_ns()) {}

void StreamCounters::frame(uint64_t nbytes, uint64_t latency_ns) {
  frames.fetch_add(1, std::memory_order_relaxed);
  bytes.fetch_add(nbytes, std::memory_order_relaxed);
  if (latency_ns) {
    latency_ns_.fetch_add(latency_ns, std::memory_order_relaxed);
    latency_count_.fetch_add(1, std::memory_order_relaxed);
  }
}

void StreamCounters::fill(StreamStats::Builder out, const char *name) {
  uint64_t now = conduit::mono_ns();
  uint64_t n = frames.load(std::memory_order_relaxed);
  uint64_t lat = latency_ns_.load(std::memory_order_relaxed), lat_n = latency_count_.load(std::memory_order_relaxed);
  double seconds = (now - window_start_ns_) * 1e-9;
  out.setName(name);
  out.setFrames(n);
  out.setDropped(dropped.load(std::memory_order_relaxed));
  out.setBytes(bytes.load(std::memory_order_relaxed));
  out.setErrors(errors.load(std::memory_order_relaxed));
  out.setQueueDepth(queue_depth.load(std::memory_order_relaxed));
  out.setFps(seconds > 0 ? float((n - window_frames_) / seconds) : 0.f);
  out.setLatencyMs(lat_n > window_latency_count_ ? float((lat - window_latency_ns_) * 1e-6 / double(lat_n - window_latency_count_)) : 0.f);
  window_start_ns_ = now;
  window_frames_ = n;
  window_latency_ns_ = lat;
  window_latency_count_ = lat_n;
}

}  // namespace cereal
