#pragma once
// The encoders' videos of the route loggerd writes, one per row of the stream
// table (cereal/streams.h). A packet goes to its video file in the open
// segment (raw Annex B, or MPEG-TS for the qcamera) and its EncodeIdx to the
// logs, made from what was written so the index matches the file. A segment's
// video starts at a keyframe, and so does what follows a failed write: packets
// before it are skipped and counted.
//
// Rotation follows the encoders: a packet whose segmentNum differs from the one
// its encoder had in this segment is held back; when every running encoder (a
// packet in the last kEncoderAliveNs) holds such packets, rotation_due() says
// so, and after the logger started the next segment, start_segment() writes
// the held packets into it. Without running encoders a timer rotates.
//
// Ownership: writes through the RouteLogger it is given, which must outlive it.
// Threads: loggerd's one thread. Errors: a message that is not a readable
// EncodeData of its video, or that the TS muxer refuses, is dropped, counted in
// bad_messages() and logged (the first of every 1000).
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "cereal/stream_stats.h"
#include "cereal/streams.h"
#include "loggerd/route_logger.h"
#include "loggerd/ts_muxer.h"
#include "msgq/msgq.h"

namespace loggerd {

class VideoStreams {
 public:
  static constexpr uint64_t kEncoderAliveNs = 2'000'000'000ull;

  explicit VideoStreams(RouteLogger &logger) : logger_(logger) {}

  // A message of video `v` (an index into cereal::kVideos) that arrived at `now`.
  void handle(int v, msgq::Message &msg, uint64_t now);
  // Whether the segment that started at segment_start_ns should end now.
  bool rotation_due(uint64_t now, uint64_t segment_start_ns, uint64_t segment_ns) const;
  // Around the logger's rotation: end_segment() before it closes the files,
  // start_segment() once the next segment is open.
  void end_segment();
  void start_segment();

  // Whether a packet of video `v` arrived since start.
  bool seen(int v) const { return streams_[v].last_ns != 0; }
  // Video v's counters (cereal/stream_stats.h) as its file's StreamStats:
  // packets written and their bytes; dropped = skipped + `lost` (lapped in the
  // ring before loggerd read them); packets held for the next segment.
  void fill_stats(int v, cereal::StreamStats::Builder out, uint64_t lost);
  uint64_t skipped() const;  // all videos
  uint64_t bad_messages() const { return bad_messages_; }

 private:
  struct Stream {
    int segment = -1;      // the encoder's segmentNum within the current logger segment
    uint64_t last_ns = 0;  // arrival of its last packet
    bool need_keyframe = true;
    std::deque<msgq::Message> held;        // packets of its next segment
    std::unique_ptr<TsMuxer> ts;           // qcamera: MPEG-TS container of this segment
    uint64_t skipped = 0;
    cereal::StreamCounters stats;          // packets written, their bytes; fps for loggerdState
  };
  void write_packet(int v, cereal::EncodeData::Reader data, uint64_t log_mono_time, uint64_t now);

  RouteLogger &logger_;
  Stream streams_[cereal::kVideos.size()];
  uint64_t bad_messages_ = 0;
  std::vector<uint64_t> scratch_;
  std::vector<uint8_t> packet_;
};

}  // namespace loggerd
