#pragma once
// libav helpers for loggerd's video tests: a tiny encoder, demuxing and frame counting.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
}

#include <functional>
#include <string>
#include <vector>

namespace loggerd_test {

struct Packet {
  std::string data;
  bool keyframe;
  int64_t index;
};

// Encodes `frames` synthetic frames (w x h, 20 fps) with `codec` (libx265 / libx264),
// forcing a keyframe whenever `key(i)`. Packets come out in order (zero latency).
inline std::vector<Packet> encode(const char *codec, int w, int h, int frames, const std::function<bool(int)> &key) {
  std::vector<Packet> out;
  av_log_set_level(AV_LOG_ERROR);
  const AVCodec *c = avcodec_find_encoder_by_name(codec);
  if (!c) return out;
  AVCodecContext *ctx = avcodec_alloc_context3(c);
  ctx->width = w;
  ctx->height = h;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = {1, 20};
  ctx->framerate = {20, 1};
  ctx->gop_size = 1000;
  ctx->max_b_frames = 0;
  av_opt_set(ctx->priv_data, "preset", "ultrafast", 0);
  av_opt_set(ctx->priv_data, "tune", "zerolatency", 0);
  if (std::string(codec) == "libx265") av_opt_set(ctx->priv_data, "x265-params", "log-level=none:repeat-headers=1", 0);
  if (avcodec_open2(ctx, c, nullptr) < 0) {
    avcodec_free_context(&ctx);
    return out;
  }
  AVFrame *f = av_frame_alloc();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = w;
  f->height = h;
  av_frame_get_buffer(f, 0);
  AVPacket *pkt = av_packet_alloc();
  auto drain = [&] {
    while (avcodec_receive_packet(ctx, pkt) == 0) {
      out.push_back({std::string(reinterpret_cast<char *>(pkt->data), pkt->size), bool(pkt->flags & AV_PKT_FLAG_KEY), pkt->pts});
      av_packet_unref(pkt);
    }
  };
  for (int i = 0; i < frames; ++i) {
    av_frame_make_writable(f);
    for (int p = 0; p < 3; ++p)
      for (int y = 0; y < (p ? h / 2 : h); ++y)
        for (int x = 0; x < (p ? w / 2 : w); ++x) f->data[p][y * f->linesize[p] + x] = uint8_t(x + y + i * 3 + p * 50);
    f->pts = i;
    f->pict_type = key(i) ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    avcodec_send_frame(ctx, f);
    drain();
  }
  avcodec_send_frame(ctx, nullptr);
  drain();
  av_packet_free(&pkt);
  av_frame_free(&f);
  avcodec_free_context(&ctx);
  return out;
}

// The packets of a video file (-1 entries when it cannot be opened).
inline std::vector<std::string> demux(const std::string &path) {
  std::vector<std::string> out;
  AVFormatContext *fmt = nullptr;
  if (avformat_open_input(&fmt, path.c_str(), nullptr, nullptr) < 0) return out;
  avformat_find_stream_info(fmt, nullptr);
  AVPacket *pkt = av_packet_alloc();
  while (av_read_frame(fmt, pkt) >= 0) {
    out.emplace_back(reinterpret_cast<char *>(pkt->data), pkt->size);
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  return out;
}

// Frames a video file decodes to, on its own (-1 when it cannot be opened or decoded).
inline int count_frames(const std::string &path) {
  AVFormatContext *fmt = nullptr;
  if (avformat_open_input(&fmt, path.c_str(), nullptr, nullptr) < 0) return -1;
  if (avformat_find_stream_info(fmt, nullptr) < 0 || fmt->nb_streams < 1) {
    avformat_close_input(&fmt);
    return -1;
  }
  const AVCodec *c = avcodec_find_decoder(fmt->streams[0]->codecpar->codec_id);
  AVCodecContext *ctx = avcodec_alloc_context3(c);
  avcodec_parameters_to_context(ctx, fmt->streams[0]->codecpar);
  int frames = -1;
  if (avcodec_open2(ctx, c, nullptr) == 0) {
    frames = 0;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    auto drain = [&] {
      while (avcodec_receive_frame(ctx, f) == 0) frames++;
    };
    while (av_read_frame(fmt, pkt) >= 0) {
      if (avcodec_send_packet(ctx, pkt) < 0) frames = -1000000;
      av_packet_unref(pkt);
      drain();
    }
    avcodec_send_packet(ctx, nullptr);
    drain();
    av_frame_free(&f);
    av_packet_free(&pkt);
  }
  avcodec_free_context(&ctx);
  avformat_close_input(&fmt);
  return frames < 0 ? -1 : frames;
}

}  // namespace loggerd_test
