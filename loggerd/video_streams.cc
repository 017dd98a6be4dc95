#include "loggerd/video_streams.h"

#include <capnp/serialize.h>

#include <cstdio>
#include <exception>

#include "cereal/messaging.h"

namespace loggerd {

void VideoStreams::handle(int v, msgq::Message &msg, uint64_t now) {
  Stream &s = streams_[v];
  s.last_ns = now;
  try {
    kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word *>(msg.data()), msg.size() / 8);
    capnp::FlatArrayMessageReader reader(words);
    auto ev = reader.getRoot<cereal::Event>();
    cereal::EncodeData::Reader data = cereal::encode_data(ev, cereal::kVideos[v]);
    int seg = data.getIdx().getSegmentNum();
    if (s.segment < 0) s.segment = seg;
    if (seg != s.segment || !s.held.empty()) {
      s.held.push_back(std::move(msg));
      return;
    }
    write_packet(v, data, ev.getLogMonoTime(), now);
  } catch (const std::exception &ex) {
    if (bad_messages_++ % 1000 == 0)
      fprintf(stderr, "loggerd: dropping a bad %s message: %s\n", cereal::kVideos[v].data_service, ex.what());
  } catch (const kj::Exception &ex) {
    if (bad_messages_++ % 1000 == 0)
      fprintf(stderr, "loggerd: dropping a bad %s message: %s\n", cereal::kVideos[v].data_service, ex.getDescription().cStr());
  }
}

void VideoStreams::write_packet(int v, cereal::EncodeData::Reader data, uint64_t log_mono_time, uint64_t now) {
  Stream &s = streams_[v];
  const cereal::Video &video = cereal::kVideos[v];
  auto idx = data.getIdx();
  bool keyframe = idx.getFlags() & cereal::EncodeIndex::FLAG_KEYFRAME;
  if (logger_.video_gap(video.file)) {
    s.need_keyframe = true;
    fprintf(stderr, "loggerd: a write to %s failed; the stream goes on at the next keyframe\n", video.file);
  }
  if (s.need_keyframe && !keyframe) {
    s.skipped++;  // a segment's video must start with a keyframe
    return;
  }
  s.need_keyframe = false;
  AppendFile *f = logger_.video(video.file);
  auto header = data.getHeader();
  auto bytes = data.getData();
  if (video.qcamera) {
    if (!s.ts) s.ts = std::make_unique<TsMuxer>(f, idx.getWidth(), idx.getHeight());
    packet_.assign(keyframe ? header.begin() : header.end(), header.end());
    packet_.insert(packet_.end(), bytes.begin(), bytes.end());
    if (!s.ts->write(packet_.data(), packet_.size(), keyframe, idx.getTimestampSof())) {
      if (bad_messages_++ % 1000 == 0)
        fprintf(stderr, "loggerd: %s packet rejected by the TS muxer: %s\n", video.data_service, s.ts->last_error().c_str());
      return;
    }
  } else {
    if (keyframe && header.size() > 0) f->append(header.begin(), header.size());
    f->append(bytes.begin(), bytes.size());
    f->end_unit();
  }
  s.stats.frame(bytes.size());

  cereal::MessageBuilder b;
  auto ev = b.initEvent();
  ev.setLogMonoTime(log_mono_time);
  cereal::set_encode_idx(ev, video, idx);
  size_t n = cereal::serialize(b, scratch_);
  logger_.log(scratch_.data(), n, true, now);
}

bool VideoStreams::rotation_due(uint64_t now, uint64_t segment_start_ns, uint64_t segment_ns) const {
  int running = 0, moved = 0;
  bool stale_held = false;  // packets held for an encoder that stopped: don't hold them forever
  for (const Stream &s : streams_) {
    bool alive = s.last_ns != 0 && now - s.last_ns <= kEncoderAliveNs;
    running += alive;
    moved += alive && !s.held.empty();
    stale_held |= !s.held.empty() && now - s.last_ns > kEncoderAliveNs;
  }
  if (running > 0) return moved == running;
  return stale_held || now - segment_start_ns >= segment_ns;
}

void VideoStreams::end_segment() {
  for (Stream &s : streams_) s.ts.reset();
}

void VideoStreams::start_segment() {
  for (int v = 0; v < int(cereal::kVideos.size()); ++v) {
    Stream &s = streams_[v];
    s.segment = -1;
    s.need_keyframe = true;
    std::deque<msgq::Message> held;
    held.swap(s.held);
    for (auto &m : held) handle(v, m, s.last_ns);
  }
}

void VideoStreams::fill_stats(int v, cereal::StreamStats::Builder out, uint64_t lost) {
  Stream &s = streams_[v];
  s.stats.dropped = s.skipped + lost;
  s.stats.queue_depth = uint32_t(s.held.size());
  s.stats.fill(out, cereal::kVideos[v].file);
}

uint64_t VideoStreams::skipped() const {
  uint64_t n = 0;
  for (const Stream &s : streams_) n += s.skipped;
  return n;
}

}  // namespace loggerd
