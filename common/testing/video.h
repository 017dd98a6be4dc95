#pragma once
// Test helpers for video: decode Annex B packets with libavcodec into
// pictures, frames with padded rows, and the PSNR of a picture against a frame.
// Header only: link libavcodec where it is used.
extern "C" {
#include <libavcodec/avcodec.h>
}

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/yuv420_psnr.h"

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

// A frame with rows `pad` bytes longer than the picture (like a VisionIPC
// buffer, so strides matter), NV12 unless asked otherwise.
struct Image {
  std::vector<uint8_t> mem;
  conduit::Yuv420Frame frame;
  Image(int w, int h, conduit::PixelFormat format = conduit::PixelFormat::kNv12, int pad = 64) {
    conduit::Yuv420Layout l = conduit::yuv420_layout(format, w + pad, h);
    mem.assign(l.size(), 0);
    l.width = w;
    frame = conduit::Yuv420Frame::at(mem.data(), l);
  }
};

// PSNR of a decoded picture against a reference frame in any layout (all three planes).
inline double psnr_vs(Picture &p, const conduit::Yuv420Frame &ref) {
  conduit::Yuv420Frame pic{p.y.data(), p.u.data(), p.v.data(), p.width, p.height, p.width, p.width / 2, 1};
  return conduit::psnr(pic, ref);
}

}  // namespace testutil
