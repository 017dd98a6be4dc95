#pragma once
// One encoded output of encoderd (e.g. road H.265, or road qcamera H.264):
// frames in, numbered packets out, ready to publish as EncodeData/EncodeIdx.
//
// It places each frame with the shared SegmentClock, forces a keyframe on the
// first frame of every segment, and counts dropped frames: the holes in the
// frame ids of a camerad run (frames VisionIPC could not deliver because
// encoderd was behind, or camerad itself dropped). Packet numbering
// (encode_id) runs on across segments and camerad restarts, also when camerad
// comes back with another frame size or layout: the codec is then flushed and
// reopened for the new input, and the next frame is a keyframe.
//
// Ownership: a frame's `release` runs once the codec no longer reads it (see
// VideoEncoder). Threads: one thread per StreamEncoder; the SegmentClock is shared.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "encoderd/segment_clock.h"
#include "encoderd/video_encoder.h"

namespace encoderd {

struct EncodedFrame {
  uint32_t frame_id;
  uint32_t encode_id;        // packet number of this output, from 0
  uint32_t segment_num;
  uint32_t segment_id;       // frame position in the segment (from the frame id)
  uint32_t segment_id_encode;// packet number within the segment
  uint64_t timestamp_sof, timestamp_eof;
  bool keyframe;
  uint32_t dropped_frames;   // total dropped by this output up to this frame
  int64_t pts;               // frame number in the codec (VideoEncoder index)
  const uint8_t *data;       // valid only during the sink call, like header
  size_t size;
  const std::string *header; // parameter sets on keyframes, empty otherwise
  uint64_t encode_ns;        // from push() of this frame to its packet (0 if unknown)
};

using EncodedFrameSink = std::function<void(const EncodedFrame &)>;

class StreamEncoder {
 public:
  StreamEncoder(const EncoderConfig &config, int input_width, int input_height, conduit::PixelFormat input_format,
                SegmentClock &clock, EncodedFrameSink sink);

  // Encodes a frame of camerad run `epoch`. Frames of a run must come in
  // increasing frame id order; an older or repeated frame is released and ignored.
  // Returns true when this frame opened the codec: the first frame encoded, or
  // one of another size or layout (the codec is then flushed and reopened).
  bool push(const conduit::Yuv420Frame &frame, const FrameMeta &meta, uint64_t epoch, std::function<void()> release);
  void flush();

  // True when `frame` has the size and layout the codec is open for (push()
  // reopens it otherwise).
  bool accepts(const conduit::Yuv420Frame &frame) const;
  const VideoEncoder &encoder() const { return *encoder_; }
  uint32_t dropped() const { return dropped_; }
  uint32_t packets() const { return encode_id_; }
  uint32_t in_flight() const { return uint32_t(in_flight_.size()); }  // frames inside the codec
  uint32_t rejected() const { return rejected_; }  // frames ignored: out of order, or no place in a segment

 private:
  void emit(const EncodedPacket &p);

  EncoderConfig config_;
  std::unique_ptr<VideoEncoder> encoder_;
  SegmentClock &clock_;
  EncodedFrameSink sink_;
  bool started_ = false;
  uint64_t epoch_ = 0;
  uint32_t last_frame_id_ = 0;
  uint32_t dropped_ = 0, encode_id_ = 0, segment_ = 0, rejected_ = 0;
  uint32_t emit_segment_ = 0, segment_encode_id_ = 0;  // of the last packet out
  // Frames inside the codec (a codec with frame threads returns packets some
  // frames later), by VideoEncoder index: their segment position, the drop
  // count and the time when they came in, so each packet reports its own
  // frame's values.
  struct InFlight {
    SegmentPosition pos;
    uint32_t dropped;
    uint64_t pushed_ns;
  };
  std::map<int64_t, InFlight> in_flight_;
};

}  // namespace encoderd
