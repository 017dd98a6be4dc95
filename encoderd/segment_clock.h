#pragma once
// Where a frame belongs: segment number and position inside it, shared by all
// encoders of one encoderd so every stream rotates on the same frame.
//
// Segments are counted in camera frames, not in seconds or in encoded frames:
// segment s of a camerad run covers frame ids [origin + s*N, origin + (s+1)*N),
// N = frames_per_segment, origin = the first frame id encoderd saw in that run.
// So with no drops every segment of every stream holds exactly N frames, and a
// dropped frame leaves a hole instead of shifting the boundaries.
//
// A camerad restart starts a new run (an "epoch": any value that differs per
// camerad run and is the same for all streams of it, e.g. the VisionIPC server
// id, or a reconnect count): its frame ids start over, and its first segment
// gets the number after the highest one handed out so far.
// Threads: all methods are thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

namespace encoderd {

struct SegmentPosition {
  uint32_t segment;  // segment number, from 0 for the first run
  uint32_t index;    // frame position in the segment, 0 .. N-1
};

class SegmentClock {
 public:
  // Throws std::invalid_argument for frames_per_segment == 0.
  explicit SegmentClock(uint32_t frames_per_segment);

  // nullopt for a frame older than its run's origin (it belongs to no segment).
  std::optional<SegmentPosition> locate(uint32_t frame_id, uint64_t epoch);
  uint32_t frames_per_segment() const { return n_; }

 private:
  struct Run {
    uint32_t origin;
    uint32_t first_segment;
  };
  uint32_t n_;
  std::mutex mu_;
  std::map<uint64_t, Run> runs_;  // epoch -> run
  uint32_t highest_segment_ = 0;
  bool any_ = false;
};

}  // namespace encoderd
