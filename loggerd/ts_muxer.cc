// TsMuxer: libavformat mpegts muxer writing into a Writer AppendFile.
#include "loggerd/ts_muxer.h"
#include "common/av_error.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
}

#include <stdexcept>

namespace loggerd {
namespace {

using conduit::av_error;

constexpr int kIoBufferSize = 188 * 64;

}  // namespace

int TsMuxer::write_cb(void *opaque, uint8_t *buf, int size) {
  static_cast<TsMuxer *>(opaque)->file_->append(buf, size_t(size));
  return size;
}

TsMuxer::TsMuxer(AppendFile *file, int width, int height) : file_(file) {
  int r = avformat_alloc_output_context2(&fmt_, nullptr, "mpegts", nullptr);
  if (r < 0 || !fmt_) throw std::runtime_error("mpegts muxer unavailable: " + av_error(r));
  auto *buf = static_cast<uint8_t *>(av_malloc(kIoBufferSize));
  io_ = avio_alloc_context(buf, kIoBufferSize, 1, this, nullptr, &TsMuxer::write_cb, nullptr);
  if (!buf || !io_) {
    av_free(buf);
    avformat_free_context(fmt_);
    throw std::runtime_error("mpegts muxer: out of memory");
  }
  fmt_->pb = io_;
  fmt_->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_FLUSH_PACKETS;
  AVStream *st = avformat_new_stream(fmt_, nullptr);
  st->time_base = {1, 90000};
  st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
  st->codecpar->codec_id = AV_CODEC_ID_H264;
  st->codecpar->width = width;
  st->codecpar->height = height;
  r = avformat_write_header(fmt_, nullptr);
  if (r < 0) {
    avio_context_free(&io_);
    avformat_free_context(fmt_);
    throw std::runtime_error("mpegts muxer: writing the header failed: " + av_error(r));
  }
  avio_flush(io_);
  file_->end_unit();
}

TsMuxer::~TsMuxer() {
  if (started_) av_write_trailer(fmt_);
  avio_flush(io_);
  file_->end_unit();
  av_freep(&io_->buffer);
  avio_context_free(&io_);
  avformat_free_context(fmt_);
}

bool TsMuxer::write(const uint8_t *data, size_t size, bool keyframe, uint64_t timestamp_ns) {
  if (!started_) first_ns_ = timestamp_ns;
  int64_t pts = timestamp_ns >= first_ns_ ? int64_t((timestamp_ns - first_ns_) * 9 / 100000) : 0;
  if (pts <= last_pts_) pts = last_pts_ + 1;  // the muxer needs strictly increasing timestamps
  AVPacket *pkt = av_packet_alloc();
  pkt->data = const_cast<uint8_t *>(data);
  pkt->size = int(size);
  pkt->pts = pkt->dts = pts;
  pkt->stream_index = 0;
  if (keyframe) pkt->flags |= AV_PKT_FLAG_KEY;
  int r = av_write_frame(fmt_, pkt);
  av_packet_free(&pkt);
  avio_flush(io_);
  if (r < 0) {
    file_->discard_unit();
    error_ = av_error(r);
    return false;
  }
  started_ = true;
  last_pts_ = pts;
  file_->end_unit();
  return true;
}

}  // namespace loggerd
