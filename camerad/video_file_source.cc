#include "camerad/video_file_source.h"
#include "common/av_error.h"
#include "common/yuv420_av.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace camerad {

namespace {
using conduit::av_error;

const char *file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  return "special file";
}
}  // namespace

VideoFileSource::VideoFileSource(const std::string &path, int width, int height, bool loop, int fallback_fps)
    : path_(path), width_(width), height_(height), loop_(loop), fallback_fps_(fallback_fps) {
  if (width <= 0 || height <= 0 || width % 2 || height % 2 || fallback_fps <= 0) {
    throw std::invalid_argument("file source " + path + ": size " + std::to_string(width) + "x" +
                                std::to_string(height) + " fps " + std::to_string(fallback_fps) +
                                ": expected even positive size and fps > 0");
  }
  pkt_ = av_packet_alloc();
  current_ = av_frame_alloc();
  next_ = av_frame_alloc();
  try {
    if (!pkt_ || !current_ || !next_) throw std::runtime_error("file source '" + path + "': out of memory");
    open();
  } catch (...) {
    free_all();
    throw;
  }
}

VideoFileSource::~VideoFileSource() { free_all(); }

void VideoFileSource::free_all() {
  close();
  av_packet_free(&pkt_);
  av_frame_free(&current_);
  av_frame_free(&next_);
  sws_freeContext(sws_);
  sws_ = nullptr;
}

void VideoFileSource::open() {
  // open() of a FIFO blocks until a writer comes, a device may never end, and
  // neither can be looped: only regular files are played.
  struct stat info;
  if (stat(path_.c_str(), &info) != 0) throw std::runtime_error("file source: cannot open '" + path_ + "': " + strerror(errno));
  if (!S_ISREG(info.st_mode)) {
    throw std::runtime_error("file source '" + path_ + "': is a " + file_kind(info.st_mode) + ", expected a regular video file");
  }
  int err = avformat_open_input(&fmt_, path_.c_str(), nullptr, nullptr);
  if (err < 0) throw std::runtime_error("file source: cannot open '" + path_ + "': " + av_error(err));
  err = avformat_find_stream_info(fmt_, nullptr);
  if (err < 0) {
    close();
    throw std::runtime_error("file source '" + path_ + "': cannot read stream info: " + av_error(err));
  }
  const AVCodec *codec = nullptr;
  stream_ = av_find_best_stream(fmt_, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream_ < 0 || !codec) {
    close();
    throw std::runtime_error("file source '" + path_ + "': expected a video stream with a decoder, found " +
                             (stream_ == AVERROR_DECODER_NOT_FOUND ? "no decoder for it" : "no video stream"));
  }
  AVStream *st = fmt_->streams[stream_];
  dec_ = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(dec_, st->codecpar);
  dec_->thread_count = 2;
  err = avcodec_open2(dec_, codec, nullptr);
  if (err < 0) {
    close();
    throw std::runtime_error("file source '" + path_ + "': cannot open decoder " + codec->name + ": " + av_error(err));
  }
  AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : AVRational{fallback_fps_, 1};
  frame_ns_ = uint64_t(1e9 * rate.den / rate.num);
  eof_ = draining_ = have_next_ = false;
  first_pts_ = INT64_MIN;
  decoded_this_loop_ = 0;
}

void VideoFileSource::close() {
  avcodec_free_context(&dec_);
  avformat_close_input(&fmt_);
}

bool VideoFileSource::decode_next() {
  while (true) {
    int err = avcodec_receive_frame(dec_, next_);
    if (err == 0) break;
    if (err == AVERROR_EOF) return false;
    if (err != AVERROR(EAGAIN)) throw std::runtime_error("file source '" + path_ + "': decode failed: " + av_error(err));
    if (draining_) return false;
    err = av_read_frame(fmt_, pkt_);
    if (err == AVERROR_EOF) {
      draining_ = true;
      avcodec_send_packet(dec_, nullptr);
      continue;
    }
    if (err < 0) throw std::runtime_error("file source '" + path_ + "': read failed: " + av_error(err));
    if (pkt_->stream_index == stream_) {
      err = avcodec_send_packet(dec_, pkt_);
      if (err < 0 && err != AVERROR(EAGAIN)) {
        av_packet_unref(pkt_);
        throw std::runtime_error("file source '" + path_ + "': corrupt packet: " + av_error(err));
      }
    }
    av_packet_unref(pkt_);
  }
  decoded_++;
  AVRational tb = fmt_->streams[stream_]->time_base;
  int64_t pts = next_->best_effort_timestamp;
  if (pts != AV_NOPTS_VALUE && first_pts_ == INT64_MIN) first_pts_ = pts;
  if (pts != AV_NOPTS_VALUE && pts >= first_pts_) {
    next_ns_ = uint64_t(av_rescale_q(pts - first_pts_, tb, AVRational{1, 1000000000}));
  } else {
    next_ns_ = decoded_this_loop_ * uint64_t(1e9 / fallback_fps_);
  }
  decoded_this_loop_++;
  return true;
}

bool VideoFileSource::frame(uint64_t t_ns, const conduit::Yuv420Frame &dst) {
  dst.validate("file source " + path_);
  if (dst.width != width_ || dst.height != height_) {
    throw std::invalid_argument("file source " + path_ + ": buffer is " + std::to_string(dst.width) + "x" +
                                std::to_string(dst.height) + ", expected " + std::to_string(width_) + "x" +
                                std::to_string(height_));
  }
  while (true) {
    uint64_t t = t_ns >= loop_offset_ ? t_ns - loop_offset_ : 0;
    if (!have_next_ && !eof_) {
      have_next_ = decode_next();
      eof_ = !have_next_;
    }
    if (have_next_ && next_ns_ <= t) {
      std::swap(current_, next_);
      av_frame_unref(next_);
      last_ns_ = next_ns_;
      have_current_ = true;
      have_next_ = false;
      continue;
    }
    // A file without a decodable frame is an error, not an ended source: a
    // manager would restart it forever.
    if (eof_ && decoded_this_loop_ == 0) {
      throw std::runtime_error("file source '" + path_ + "': expected video frames, found none that decode");
    }
    if (have_next_ || t < last_ns_ + frame_ns_) break;
    // End of file and the last frame's time is over.
    if (!loop_) return false;
    loop_offset_ += last_ns_ + frame_ns_;
    loops_++;
    close();
    open();
  }
  if (!have_current_) return false;
  conduit::AvPlanes out = conduit::av_planes(dst);
  sws_ = sws_getCachedContext(sws_, current_->width, current_->height, AVPixelFormat(current_->format), width_, height_,
                              out.format, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws_) {
    throw std::runtime_error("file source '" + path_ + "': libswscale cannot convert " +
                             av_get_pix_fmt_name(AVPixelFormat(current_->format)) + " " +
                             std::to_string(current_->width) + "x" + std::to_string(current_->height) + " to " +
                             av_get_pix_fmt_name(out.format));
  }
  source_width_ = current_->width;
  source_height_ = current_->height;
  sws_scale(sws_, current_->data, current_->linesize, 0, current_->height, out.data, out.linesize);
  return true;
}

}  // namespace camerad
