#include "streamd/fmp4_fragmenter.h"

#include <cstring>

extern "C" {
#include <libavformat/avformat.h>
}

namespace streamd {

Fmp4Fragmenter::~Fmp4Fragmenter() { close(); }

int Fmp4Fragmenter::write_cb(void *opaque, uint8_t *buf, int size) {
  static_cast<Fmp4Fragmenter *>(opaque)->out_.append(reinterpret_cast<const char *>(buf), size_t(size));
  return size;
}

void Fmp4Fragmenter::close() {
  if (fmt_) avformat_free_context(fmt_);
  fmt_ = nullptr;
  if (io_) {
    av_freep(&io_->buffer);
    avio_context_free(&io_);
  }
}

bool Fmp4Fragmenter::open(const std::string &header, int width, int height, uint64_t sof_ns) {
  close();
  if (avformat_alloc_output_context2(&fmt_, nullptr, "mp4", nullptr) < 0) return false;
  AVStream *st = avformat_new_stream(fmt_, nullptr);
  st->time_base = AVRational{1, 90000};
  AVCodecParameters *par = st->codecpar;
  par->codec_type = AVMEDIA_TYPE_VIDEO;
  par->codec_id = AV_CODEC_ID_H264;
  par->width = width;
  par->height = height;
  par->extradata = static_cast<uint8_t *>(av_mallocz(header.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  memcpy(par->extradata, header.data(), header.size());
  par->extradata_size = int(header.size());
  const int kBuf = 64 * 1024;
  io_ = avio_alloc_context(static_cast<uint8_t *>(av_malloc(kBuf)), kBuf, 1, this, nullptr, write_cb, nullptr);
  fmt_->pb = io_;
  fmt_->flags |= AVFMT_FLAG_FLUSH_PACKETS;
  AVDictionary *opts = nullptr;
  // frag_custom: a fragment ends when we say so (after every packet), so a
  // frame reaches clients without waiting for the next one.
  av_dict_set(&opts, "movflags", "empty_moov+default_base_moof+frag_custom+skip_trailer", 0);
  out_.clear();
  int err = avformat_write_header(fmt_, &opts);
  av_dict_free(&opts);
  if (err < 0) {
    close();
    return false;
  }
  avio_flush(io_);
  init_ = out_;
  header_ = header;
  start_ns_ = sof_ns;
  last_pts_ = -1;
  generation_++;
  return true;
}

bool Fmp4Fragmenter::push(const uint8_t *data, size_t size, const std::string &header, bool keyframe, uint64_t sof_ns,
                          int width, int height) {
  if (keyframe && !header.empty() && (!fmt_ || header != header_)) {
    if (!open(header, width, height, sof_ns)) return false;
  }
  if (!fmt_ || sof_ns < start_ns_) return false;
  int64_t pts = int64_t((sof_ns - start_ns_) * 9 / 100000);
  if (pts <= last_pts_) return false;  // out of order or repeated: the stream only moves forward
  // A frame's duration is known only when the next one comes. Given 0, the
  // muxer puts the interval before the frame in its place, and the times it
  // writes stay exact (see the header) without holding a frame back.
  last_pts_ = pts;
  AVPacket *pkt = av_packet_alloc();
  pkt->data = const_cast<uint8_t *>(data);
  pkt->size = int(size);
  pkt->pts = pkt->dts = pts;
  pkt->duration = 0;
  pkt->flags = keyframe ? AV_PKT_FLAG_KEY : 0;
  out_.clear();
  int err = av_write_frame(fmt_, pkt);
  av_packet_free(&pkt);
  if (err >= 0) err = av_write_frame(fmt_, nullptr);  // cut the fragment now
  avio_flush(io_);
  return err >= 0 && !out_.empty();
}

}  // namespace streamd
