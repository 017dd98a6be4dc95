#include "streamd/remux.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

extern "C" {
#include <libavformat/avformat.h>
}

#include "common/av_error.h"
#include "streamd/route_index.h"

namespace fs = std::filesystem;

namespace streamd {

namespace {

struct Input {
  std::string path;
  uint64_t start_ns;  // timestampSof of its first frame, 0 when unknown
};

class Mp4Writer {
 public:
  explicit Mp4Writer(const std::string &path) : path_(path) {
    int err = avformat_alloc_output_context2(&out_, nullptr, "mp4", path.c_str());
    if (err < 0) throw std::runtime_error("remux: no mp4 muxer: " + conduit::av_error(err));
  }
  ~Mp4Writer() {
    if (out_ && out_->pb) avio_closep(&out_->pb);
    avformat_free_context(out_);
  }

  // Copies every packet of `in` to the output, shifted to start at `offset_s`.
  // Returns the end time of its last packet (seconds).
  double append(const Input &in, double offset_s) {
    AVFormatContext *ts = nullptr;
    int err = avformat_open_input(&ts, in.path.c_str(), nullptr, nullptr);
    if (err < 0) throw std::runtime_error("remux: cannot open " + in.path + ": " + conduit::av_error(err));
    double end = offset_s;
    try {
      if ((err = avformat_find_stream_info(ts, nullptr)) < 0) {
        throw std::runtime_error("remux: " + in.path + ": " + conduit::av_error(err));
      }
      int v = av_find_best_stream(ts, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
      if (v < 0 || ts->streams[v]->codecpar->codec_id != AV_CODEC_ID_H264) {
        throw std::runtime_error("remux: " + in.path + " holds no H.264 video");
      }
      if (!started_) start(ts->streams[v]);
      end = copy_packets(ts, v, offset_s);
    } catch (...) {
      avformat_close_input(&ts);
      throw;
    }
    avformat_close_input(&ts);
    return end;
  }

  void finish() {
    if (!started_) throw std::runtime_error("remux: no packets");
    int err = av_write_trailer(out_);
    if (err < 0) throw std::runtime_error("remux: writing " + path_ + ": " + conduit::av_error(err));
  }

 private:
  void start(AVStream *in) {
    AVStream *st = avformat_new_stream(out_, nullptr);
    avcodec_parameters_copy(st->codecpar, in->codecpar);
    st->codecpar->codec_tag = 0;
    st->time_base = AVRational{1, 90000};
    int err = avio_open(&out_->pb, path_.c_str(), AVIO_FLAG_WRITE);
    if (err < 0) throw std::runtime_error("remux: cannot create " + path_ + ": " + conduit::av_error(err));
    AVDictionary *opts = nullptr;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    err = avformat_write_header(out_, &opts);
    av_dict_free(&opts);
    if (err < 0) throw std::runtime_error("remux: mp4 header: " + conduit::av_error(err));
    started_ = true;
  }

  double copy_packets(AVFormatContext *ts, int v, double offset_s) {
    AVStream *in = ts->streams[v], *st = out_->streams[0];
    AVPacket *pkt = av_packet_alloc();
    int64_t first = AV_NOPTS_VALUE;
    int64_t offset = av_rescale_q(int64_t(offset_s * 90000), AVRational{1, 90000}, st->time_base);
    double end = offset_s;
    while (av_read_frame(ts, pkt) >= 0) {
      if (pkt->stream_index != v || pkt->dts == AV_NOPTS_VALUE) {
        av_packet_unref(pkt);
        continue;
      }
      if (first == AV_NOPTS_VALUE) first = pkt->dts;
      int64_t dts = av_rescale_q(pkt->dts - first, in->time_base, st->time_base) + offset;
      int64_t pts = pkt->pts == AV_NOPTS_VALUE ? dts : av_rescale_q(pkt->pts - first, in->time_base, st->time_base) + offset;
      if (dts <= last_dts_) {  // segments overlapping by a frame: keep time moving forward
        pts += last_dts_ + 1 - dts;
        dts = last_dts_ + 1;
      }
      int64_t duration = pkt->duration > 0 ? av_rescale_q(pkt->duration, in->time_base, st->time_base) : 4500;
      pkt->dts = last_dts_ = dts;
      pkt->pts = pts;
      pkt->duration = duration;
      pkt->stream_index = 0;
      pkt->pos = -1;
      end = double(dts + duration) / 90000.0;
      int err = av_write_frame(out_, pkt);
      av_packet_unref(pkt);
      if (err < 0) {
        av_packet_free(&pkt);
        throw std::runtime_error("remux: writing a packet of " + std::string(ts->url) + ": " + conduit::av_error(err));
      }
    }
    av_packet_free(&pkt);
    return end;
  }

  std::string path_;
  AVFormatContext *out_ = nullptr;
  bool started_ = false;
  int64_t last_dts_ = -1;
};

}  // namespace

std::string route_mp4(const std::string &root, const std::string &route, const std::string &cache_dir) {
  auto segments = route_segments(root, route);
  auto starts = qcamera_starts(segments);
  std::vector<Input> inputs;
  std::string key;
  for (size_t i = 0; i < segments.size(); i++) {
    std::string ts = segments[i].path + "/qcamera.ts";
    struct stat st;
    if (lstat(ts.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) continue;
    inputs.push_back({ts, starts[i]});
    key += std::to_string(segments[i].number) + ":" + std::to_string(st.st_size) + ":" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  if (inputs.empty()) throw std::invalid_argument("route " + route + " has no qcamera.ts");
  char hex[17];
  snprintf(hex, sizeof hex, "%016zx", std::hash<std::string>()(key));
  std::string path = cache_dir + "/" + route + "." + hex + ".mp4";
  if (access(path.c_str(), R_OK) == 0) return path;

  fs::create_directories(cache_dir);
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  uint64_t t0 = 0;
  for (auto &in : inputs) {
    if (in.start_ns) {
      t0 = in.start_ns;
      break;
    }
  }
  try {
    Mp4Writer out(tmp);
    double end = 0;
    for (auto &in : inputs) {
      double at = in.start_ns && t0 && in.start_ns >= t0 ? double(in.start_ns - t0) / 1e9 : end;
      end = out.append(in, std::max(at, end));
    }
    out.finish();
  } catch (...) {
    unlink(tmp.c_str());
    throw;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    throw std::runtime_error("remux: cannot move the result into " + path);
  }
  std::error_code ec;
  for (auto &e : fs::directory_iterator(cache_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(route + ".", 0) == 0 && name.size() == route.size() + 21 && e.path() != path) fs::remove(e.path(), ec);
  }
  return path;
}

}  // namespace streamd
