#include "encoderd/stream_encoder.h"

#include "common/clock.h"

namespace encoderd {

StreamEncoder::StreamEncoder(const EncoderConfig &config, int input_width, int input_height,
                             conduit::PixelFormat input_format, SegmentClock &clock, EncodedFrameSink sink)
    : config_(config), encoder_(std::make_unique<VideoEncoder>(config, input_width, input_height, input_format)),
      clock_(clock), sink_(std::move(sink)) {}

bool StreamEncoder::accepts(const conduit::Yuv420Frame &frame) const {
  return frame.width == encoder_->input_width() && frame.height == encoder_->input_height() &&
         frame.format() == encoder_->input_format();
}

bool StreamEncoder::push(const conduit::Yuv420Frame &frame, const FrameMeta &meta, uint64_t epoch,
                         std::function<void()> release) {
  bool same_run = started_ && epoch == epoch_;
  std::optional<SegmentPosition> pos;
  if ((same_run && meta.frame_id <= last_frame_id_) || !(pos = clock_.locate(meta.frame_id, epoch))) {
    rejected_++;
    if (release) release();
    return false;
  }
  if (same_run) dropped_ += meta.frame_id - last_frame_id_ - 1;
  bool reopened = !accepts(frame);
  if (reopened) {
    flush();
    encoder_ = std::make_unique<VideoEncoder>(config_, frame.width, frame.height, frame.format());
  }
  bool opened = !started_ || reopened;
  bool new_segment = opened || pos->segment != segment_;
  started_ = true;
  epoch_ = epoch;
  last_frame_id_ = meta.frame_id;
  segment_ = pos->segment;
  in_flight_[int64_t(encoder_->frames_in())] = {*pos, dropped_, conduit::mono_ns()};
  encoder_->encode(frame, meta, new_segment, std::move(release), [this](const EncodedPacket &p) { emit(p); });
  return opened;
}

void StreamEncoder::flush() {
  encoder_->flush([this](const EncodedPacket &p) { emit(p); });
}

void StreamEncoder::emit(const EncodedPacket &p) {
  InFlight f{{segment_, 0}, dropped_, 0};
  auto it = in_flight_.find(p.index);
  if (it != in_flight_.end()) {
    f = it->second;
    in_flight_.erase(it);
  }
  const SegmentPosition &pos = f.pos;
  if (encode_id_ == 0 || pos.segment != emit_segment_) {
    emit_segment_ = pos.segment;
    segment_encode_id_ = 0;
  }
  EncodedFrame out{p.meta.frame_id, encode_id_++, pos.segment, pos.index, segment_encode_id_++,
                   p.meta.timestamp_sof, p.meta.timestamp_eof, p.keyframe, f.dropped, p.index, p.data, p.size, &p.header,
                   f.pushed_ns ? conduit::mono_ns() - f.pushed_ns : 0};
  sink_(out);
}

}  // namespace encoderd
