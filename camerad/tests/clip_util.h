#pragma once
// Test helper: writes a short clip of the synthetic road scene with libavcodec
// and libavformat (H.264, the file source's test input).
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
}

#include <gtest/gtest.h>

#include <string>

#include "camerad/synthetic_scene.h"
#include "common/yuv420_av.h"

namespace testutil {

// Writes frames [0, n) of the synthetic road scene as H.264 at `fps`, in
// MPEG-TS (with_timestamps) or as a raw Annex B stream.
inline void write_clip(const std::string &path, int w, int h, int n, int fps, bool with_timestamps) {
  av_log_set_level(AV_LOG_WARNING);
  const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
  ASSERT_NE(codec, nullptr);
  AVCodecContext *enc = avcodec_alloc_context3(codec);
  enc->width = w;
  enc->height = h;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->time_base = AVRational{1, fps};
  enc->framerate = AVRational{fps, 1};
  enc->bit_rate = 8'000'000;
  enc->max_b_frames = 0;
  enc->gop_size = 20;
  av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
  av_opt_set(enc->priv_data, "tune", "zerolatency", 0);
  ASSERT_GE(avcodec_open2(enc, codec, nullptr), 0);

  AVFormatContext *oc = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&oc, nullptr, with_timestamps ? "mpegts" : "h264", path.c_str()), 0);
  AVStream *st = avformat_new_stream(oc, nullptr);
  avcodec_parameters_from_context(st->codecpar, enc);
  st->time_base = AVRational{1, 90000};
  ASSERT_GE(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(oc, nullptr), 0);

  AVFrame *frame = av_frame_alloc();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = w;
  frame->height = h;
  ASSERT_GE(av_frame_get_buffer(frame, 0), 0);
  AVPacket *pkt = av_packet_alloc();
  auto drain = [&] {
    while (avcodec_receive_packet(enc, pkt) == 0) {
      av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
      pkt->stream_index = 0;
      av_interleaved_write_frame(oc, pkt);
    }
  };
  for (int i = 0; i < n; i++) {
    av_frame_make_writable(frame);
    camerad::render_synthetic(camerad::CameraStream::Road, uint32_t(i), conduit::av_frame_view(frame));
    frame->pts = i;
    avcodec_send_frame(enc, frame);
    drain();
  }
  avcodec_send_frame(enc, nullptr);
  drain();
  av_write_trailer(oc);
  avio_closep(&oc->pb);
  avformat_free_context(oc);
  av_packet_free(&pkt);
  av_frame_free(&frame);
  avcodec_free_context(&enc);
}

}  // namespace testutil
