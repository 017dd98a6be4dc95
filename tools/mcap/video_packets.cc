#include "tools/mcap/video_packets.h"

#include <memory>
#include <stdexcept>

extern "C" {
#include <libavformat/avformat.h>
}

#include "common/av_error.h"

namespace foxglove {

VideoPackets read_video_packets(const std::string &path) {
  AVFormatContext *raw = nullptr;
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (err < 0) throw std::runtime_error(path + ": cannot open video (" + conduit::av_error(err) + ")");
  std::unique_ptr<AVFormatContext, void (*)(AVFormatContext *)> fmt(raw, [](AVFormatContext *f) { avformat_close_input(&f); });

  // No avformat_find_stream_info(): it decodes frames, and the packets are all we need.
  VideoPackets out;
  AVPacket *pkt = av_packet_alloc();
  int stream = -1;
  while ((err = av_read_frame(fmt.get(), pkt)) >= 0) {
    const AVCodecParameters *par = fmt->streams[pkt->stream_index]->codecpar;
    if (stream < 0 && par->codec_type == AVMEDIA_TYPE_VIDEO) stream = pkt->stream_index;
    if (pkt->stream_index == stream) {
      out.packets.push_back({std::string(reinterpret_cast<const char *>(pkt->data), pkt->size),
                             (pkt->flags & AV_PKT_FLAG_KEY) != 0});
    }
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  if (stream < 0 && err == AVERROR_EOF) throw std::runtime_error(path + ": no video stream (expected H.265 or H.264)");
  if (err != AVERROR_EOF) {
    out.truncated = true;
    out.error = path + ": read error after " + std::to_string(out.packets.size()) + " packets (" + conduit::av_error(err) + ")";
  }
  if (stream >= 0) {
    const AVCodecParameters *par = fmt->streams[stream]->codecpar;
    if (par->extradata_size > 0) out.header.assign(reinterpret_cast<const char *>(par->extradata), par->extradata_size);
  }
  return out;
}

}  // namespace foxglove
