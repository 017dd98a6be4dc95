#include "tools/replay/frame_reader.h"
#include "common/av_error.h"
#include "common/yuv420_av.h"

#include <algorithm>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace replay {

namespace {

using conduit::av_error;

struct FormatCloser {
  void operator()(AVFormatContext *f) const { avformat_close_input(&f); }
};

}  // namespace

FrameReader::FrameReader(const std::string &path, int decode_threads) : path_(path) {
  AVFormatContext *raw = nullptr;
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (err < 0) throw FrameError(path + ": cannot open video (" + av_error(err) + ")");
  std::unique_ptr<AVFormatContext, FormatCloser> fmt(raw);
  if ((err = avformat_find_stream_info(fmt.get(), nullptr)) < 0) {
    throw FrameError(path + ": cannot read stream info (" + av_error(err) + ")");
  }
  int stream = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (stream < 0) throw FrameError(path + ": no video stream (expected H.265 or H.264)");
  const AVCodecParameters *par = fmt->streams[stream]->codecpar;
  const AVCodec *codec = avcodec_find_decoder(par->codec_id);
  if (!codec) throw FrameError(path + ": no decoder for codec " + avcodec_get_name(par->codec_id));

  AVPacket *pkt = av_packet_alloc();
  while ((err = av_read_frame(fmt.get(), pkt)) >= 0) {
    if (pkt->stream_index == stream) {
      // The packet index travels through the decoder as the timestamp, so a
      // decoded frame always says which packet it came from.
      pkt->pts = pkt->dts = int64_t(packets_.size());
      keyframes_.push_back(pkt->flags & AV_PKT_FLAG_KEY);
      packets_.push_back(av_packet_clone(pkt));
    }
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  if (err != AVERROR_EOF) throw FrameError(path + ": read error after " + std::to_string(packets_.size()) +
                                           " packets (" + av_error(err) + ")");
  if (packets_.empty()) throw FrameError(path + ": no video packets");
  if (!keyframes_[0]) throw FrameError(path + ": the first packet is not a keyframe (expected every segment to start with one)");

  ctx_ = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(ctx_, par);
  ctx_->thread_count = decode_threads;
  ctx_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  if ((err = avcodec_open2(ctx_, codec, nullptr)) < 0) {
    throw FrameError(path + ": decoder refused the stream (" + av_error(err) + ")");
  }
  width_ = par->width;
  height_ = par->height;
  if (width_ <= 0 || height_ <= 0 || (width_ | height_) & 1) {
    throw FrameError(path + ": video size " + std::to_string(width_) + "x" + std::to_string(height_) +
                     " (expected even, non-zero)");
  }
}

FrameReader::~FrameReader() {
  for (AVFrame *f : ready_) av_frame_free(&f);
  for (AVPacket *p : packets_) av_packet_free(&p);
  avcodec_free_context(&ctx_);
  sws_freeContext(sws_);
}

void FrameReader::restart_at(size_t keyframe) {
  avcodec_flush_buffers(ctx_);
  for (AVFrame *f : ready_) av_frame_free(&f);
  ready_.clear();
  next_packet_ = keyframe;
  last_output_ = -1;
  draining_ = false;
}

AVFrame *FrameReader::decode(size_t i) {
  if (i >= packets_.size()) {
    throw FrameError(path_ + ": frame " + std::to_string(i) + " requested, the file has " +
                     std::to_string(packets_.size()));
  }
  while (!ready_.empty() && ready_.front()->pts < int64_t(i)) {
    av_frame_free(&ready_.front());
    ready_.pop_front();
  }
  for (AVFrame *f : ready_) {
    if (f->pts == int64_t(i)) return f;
  }
  size_t key = i;
  while (key > 0 && !keyframes_[key]) --key;
  // Continue from where the decoder is when i is still ahead of it (packets may
  // be in flight: frame threading); otherwise start over at the keyframe, as
  // also when a keyframe lies between the decoder and i.
  if (int64_t(i) <= last_output_ || key > next_packet_) restart_at(key);

  AVFrame *frame = av_frame_alloc();
  for (;;) {
    int r = avcodec_receive_frame(ctx_, frame);
    if (r == 0) {
      int64_t pts = frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
      last_output_ = pts;
      if (pts < int64_t(i)) {
        av_frame_unref(frame);
        continue;
      }
      if (pts > int64_t(i)) {
        av_frame_free(&frame);
        throw FrameError(path_ + ": packet " + std::to_string(i) + " did not decode (the decoder went on to " +
                         std::to_string(pts) + ")");
      }
      if (frame->width != width_ || frame->height != height_) {
        std::string found = std::to_string(frame->width) + "x" + std::to_string(frame->height);
        av_frame_free(&frame);
        throw FrameError(path_ + ": frame " + std::to_string(i) + " is " + found + ", the stream is " +
                         std::to_string(width_) + "x" + std::to_string(height_));
      }
      ready_.push_back(frame);
      return frame;
    }
    if (r == AVERROR(EAGAIN)) {
      if (next_packet_ < packets_.size()) {
        int s = avcodec_send_packet(ctx_, packets_[next_packet_++]);
        ++packets_decoded_;
        // A damaged packet is dropped by the decoder; if it was the one asked
        // for, the frame that comes out next says so.
        if (s < 0 && s != AVERROR_INVALIDDATA) {
          av_frame_free(&frame);
          throw FrameError(path_ + ": decoder error at packet " + std::to_string(next_packet_ - 1) + " (" +
                           av_error(s) + ")");
        }
      } else if (!draining_) {
        avcodec_send_packet(ctx_, nullptr);
        draining_ = true;
      }
      continue;
    }
    av_frame_free(&frame);
    throw FrameError(path_ + ": packet " + std::to_string(i) + " did not decode (" + av_error(r) + ")");
  }
}

void FrameReader::prefetch(size_t i) {
  if (i >= packets_.size()) return;
  try {
    decode(i);
  } catch (const FrameError &) {
    // Reported when the frame is actually requested.
  }
}

void FrameReader::get(size_t i, const conduit::Yuv420Frame &dst) {
  if (dst.width != width_ || dst.height != height_) {
    throw FrameError(path_ + " is " + std::to_string(width_) + "x" + std::to_string(height_) + ", the destination " +
                     std::to_string(dst.width) + "x" + std::to_string(dst.height));
  }
  AVFrame *f = decode(i);
  conduit::AvPlanes out = conduit::av_planes(dst);
  sws_ = sws_getCachedContext(sws_, width_, height_, AVPixelFormat(f->format), width_, height_, out.format,
                              SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws_) {
    throw FrameError(path_ + ": cannot convert pixel format " + av_get_pix_fmt_name(AVPixelFormat(f->format)) + " to " +
                     av_get_pix_fmt_name(out.format));
  }
  sws_scale(sws_, f->data, f->linesize, 0, height_, out.data, out.linesize);
}

}  // namespace replay
