#pragma once
// Test helpers: decode Annex-B packets with libavcodec, compare pictures with
// the synthetic scene.
extern "C" {
#include <libavcodec/avcodec.h>
}

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "camerad/synthetic_scene.h"

namespace testutil {

struct Picture {  // planar 4:2:0, tightly packed
  int width = 0, height = 0;
  std::vector<uint8_t> y, u, v;
};

class Decoder {
 public:
  explicit Decoder(AVCodecID id) {
    const AVCodec *c = avcodec_find_decoder(id);
    if (!c) throw std::runtime_error("no decoder");
    ctx_ = avcodec_alloc_context3(c);
    if (avcodec_open2(ctx_, c, nullptr) < 0) throw std::runtime_error("cannot open decoder");
    frame_ = av_frame_alloc();
    pkt_ = av_packet_alloc();
  }
  ~Decoder() {
    avcodec_free_context(&ctx_);
    av_frame_free(&frame_);
    av_packet_free(&pkt_);
  }
  // Returns the pictures completed by this packet (nullptr data = flush).
  std::vector<Picture> decode(const uint8_t *data, size_t size) {
    std::vector<Picture> out;
    if (data) {
      av_new_packet(pkt_, int(size));
      memcpy(pkt_->data, data, size);
      if (avcodec_send_packet(ctx_, pkt_) < 0) throw std::runtime_error("decode error");
      av_packet_unref(pkt_);
    } else {
      avcodec_send_packet(ctx_, nullptr);
    }
    while (avcodec_receive_frame(ctx_, frame_) == 0) {
      if (frame_->format != AV_PIX_FMT_YUV420P) throw std::runtime_error("unexpected decoded pixel format");
      Picture p;
      p.width = frame_->width;
      p.height = frame_->height;
      auto plane = [&](int i, int w, int h, std::vector<uint8_t> &dst) {
        dst.resize(size_t(w) * h);
        for (int r = 0; r < h; r++) memcpy(&dst[size_t(r) * w], frame_->data[i] + size_t(r) * frame_->linesize[i], w);
      };
      plane(0, p.width, p.height, p.y);
      plane(1, p.width / 2, p.height / 2, p.u);
      plane(2, p.width / 2, p.height / 2, p.v);
      out.push_back(std::move(p));
      av_frame_unref(frame_);
    }
    return out;
  }

 private:
  AVCodecContext *ctx_ = nullptr;
  AVFrame *frame_ = nullptr;
  AVPacket *pkt_ = nullptr;
};

struct Nv12Image {
  std::vector<uint8_t> mem;
  camerad::Nv12Frame frame;
  Nv12Image(int w, int h, int pad = 64) {
    int stride = w + pad;
    mem.assign(size_t(stride) * h * 3 / 2, 0);
    frame = {mem.data(), mem.data() + size_t(stride) * h, w, h, stride};
  }
};

inline double psnr(double mse) { return mse <= 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse); }

// PSNR of a decoded picture against an NV12 reference (all three planes).
inline double psnr_vs(const Picture &p, const camerad::Nv12Frame &ref) {
  double se = 0;
  size_t n = 0;
  for (int r = 0; r < p.height; r++) {
    for (int c = 0; c < p.width; c++, n++) {
      double d = double(p.y[size_t(r) * p.width + c]) - ref.y[size_t(r) * ref.stride + c];
      se += d * d;
    }
  }
  for (int r = 0; r < p.height / 2; r++) {
    for (int c = 0; c < p.width / 2; c++, n += 2) {
      double du = double(p.u[size_t(r) * (p.width / 2) + c]) - ref.uv[size_t(r) * ref.stride + 2 * c];
      double dv = double(p.v[size_t(r) * (p.width / 2) + c]) - ref.uv[size_t(r) * ref.stride + 2 * c + 1];
      se += du * du + dv * dv;
    }
  }
  return psnr(se / n);
}

}  // namespace testutil
