#pragma once
// Test helper: writes a short clip of the synthetic road scene with libavformat.
extern "C" {
#include <libavformat/avformat.h>
}

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "camerad/synthetic_scene.h"
#include "encoderd/tests/decode_util.h"
#include "encoderd/video_encoder.h"

namespace testutil {

// Writes frames [0, n) of the synthetic road scene as H.264 in MPEG-TS at `fps`.
inline void write_clip(const std::string &path, int w, int h, int n, int fps, bool with_timestamps) {
  av_log_set_level(AV_LOG_WARNING);
  encoderd::EncoderConfig cfg;
  cfg.codec = "libx264";
  cfg.bitrate = 8'000'000;
  cfg.fps = fps;
  encoderd::VideoEncoder enc(cfg, w, h);
  AVFormatContext *oc = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&oc, nullptr, with_timestamps ? "mpegts" : "h264", path.c_str()), 0);
  AVStream *st = avformat_new_stream(oc, nullptr);
  st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
  st->codecpar->codec_id = AV_CODEC_ID_H264;
  st->codecpar->width = w;
  st->codecpar->height = h;
  st->time_base = AVRational{1, 90000};
  ASSERT_GE(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(oc, nullptr), 0);
  AVPacket *pkt = av_packet_alloc();
  auto sink = [&](const encoderd::EncodedPacket &p) {
    av_new_packet(pkt, int(p.size));
    memcpy(pkt->data, p.data, p.size);
    pkt->stream_index = 0;
    pkt->pts = pkt->dts = av_rescale_q(p.index, AVRational{1, fps}, st->time_base);
    if (p.keyframe) pkt->flags |= AV_PKT_FLAG_KEY;
    av_interleaved_write_frame(oc, pkt);
  };
  testutil::Image img(w, h);
  for (int i = 0; i < n; i++) {
    camerad::render_synthetic(camerad::CameraStream::Road, uint32_t(i), img.frame);
    enc.encode(img.frame, {uint32_t(i), 0, 0}, i == 0, nullptr, sink);
  }
  enc.flush(sink);
  av_write_trailer(oc);
  avio_closep(&oc->pb);
  avformat_free_context(oc);
  av_packet_free(&pkt);
}

}  // namespace testutil

