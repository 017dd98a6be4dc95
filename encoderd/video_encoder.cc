#include "encoderd/video_encoder.h"
#include "common/av_error.h"
#include "common/yuv420_av.h"
#include "common/yuv420_copy.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace encoderd {

namespace {

using conduit::av_error;

bool accepts(const AVCodec *codec, AVPixelFormat fmt) {
  for (const AVPixelFormat *p = codec->pix_fmts; p && *p != AV_PIX_FMT_NONE; p++) {
    if (*p == fmt) return true;
  }
  return false;
}

// libx265 and libx264 only log a warning for an option they do not know; the
// warning is caught here (while one encoder opens) and turned into an error.
// The log callback is swapped only during avcodec_open2; messages of other
// contexts still reach libavutil's default callback.
std::mutex open_mutex;
void *opening = nullptr;
std::string open_warnings;

void capture_log(void *avcl, int level, const char *fmt, va_list vl) {
  if (avcl && avcl == opening && level <= AV_LOG_WARNING) {
    char line[512];
    va_list copy;
    va_copy(copy, vl);
    vsnprintf(line, sizeof line, fmt, copy);
    va_end(copy);
    open_warnings += line;
  }
  av_log_default_callback(avcl, level, fmt, vl);
}

struct Release {
  std::function<void()> fn;
};

void release_buffer(void *opaque, uint8_t *) {
  Release *r = static_cast<Release *>(opaque);
  if (r->fn) r->fn();
  delete r;
}

}  // namespace

std::string parameter_sets(const uint8_t *data, size_t size, bool hevc) {
  // Walk Annex-B NAL units; keep the leading run of parameter sets.
  std::string out;
  size_t i = 0;
  auto start_code_at = [&](size_t p) { return p + 3 <= size && data[p] == 0 && data[p + 1] == 0 && data[p + 2] == 1; };
  while (i < size) {
    size_t sc = i;
    while (sc < size && !start_code_at(sc)) sc++;
    if (sc >= size) break;
    size_t nal = sc + 3;
    size_t begin = (sc > 0 && data[sc - 1] == 0) ? sc - 1 : sc;
    size_t next = nal;
    while (next < size && !start_code_at(next)) next++;
    size_t end = next;
    if (next < size && end > nal && data[end - 1] == 0) end--;
    if (nal >= size) break;
    int type = hevc ? (data[nal] >> 1) & 0x3f : data[nal] & 0x1f;
    bool is_param = hevc ? (type >= 32 && type <= 34) : (type == 7 || type == 8);
    bool skippable = hevc ? type == 35 || type == 39 : type == 9 || type == 6;  // AUD, SEI
    if (is_param) {
      out.append(reinterpret_cast<const char *>(data + begin), end - begin);
    } else if (!skippable) {
      break;
    }
    i = next;
  }
  return out;
}

VideoEncoder::VideoEncoder(const EncoderConfig &config, int input_width, int input_height,
                           conduit::PixelFormat input_format)
    : input_width_(input_width), input_height_(input_height),
      width_(config.width ? config.width : input_width), height_(config.height ? config.height : input_height),
      input_format_(input_format) {
  if (input_width <= 0 || input_height <= 0 || input_width % 2 || input_height % 2 || width_ <= 0 ||
      height_ <= 0 || width_ % 2 || height_ % 2) {
    throw std::invalid_argument("encoder: input " + std::to_string(input_width) + "x" + std::to_string(input_height) +
                                ", output " + std::to_string(width_) + "x" + std::to_string(height_) +
                                ": expected positive even sizes");
  }
  if (config.fps <= 0 || config.bitrate <= 0 || config.gop <= 0) {
    throw std::invalid_argument("encoder: fps " + std::to_string(config.fps) + ", bitrate " +
                                std::to_string(config.bitrate) + ", gop " + std::to_string(config.gop) +
                                ": expected all positive");
  }
  try {
    if (config.codec == "auto-hevc") {
      try {
        open("hevc_nvenc", config);
      } catch (const std::runtime_error &) {
        open("libx265", config);
      }
    } else {
      open(config.codec, config);
    }
    frame_ = av_frame_alloc();
    packet_ = av_packet_alloc();
    if (!frame_ || !packet_) throw std::runtime_error("encoder " + codec_name_ + ": out of memory");
  } catch (...) {
    free_all();
    throw;
  }
}

void VideoEncoder::free_all() {
  avcodec_free_context(&ctx_);
  av_buffer_pool_uninit(&chroma_pool_);
  sws_freeContext(sws_);
  sws_ = nullptr;
  av_frame_free(&frame_);
  av_packet_free(&packet_);
}

void VideoEncoder::open(const std::string &name, const EncoderConfig &config) {
  const AVCodec *codec = avcodec_find_encoder_by_name(name.c_str());
  if (!codec) throw std::runtime_error("encoder: libavcodec has no encoder named '" + name + "'");
  if (codec->type != AVMEDIA_TYPE_VIDEO) throw std::runtime_error("encoder: '" + name + "' is not a video encoder");
  bool same_size = width_ == input_width_ && height_ == input_height_;
  // The input's own format lends the frame as it is; the other one costs a chroma conversion.
  const AVPixelFormat own = conduit::av_pixel_format(input_format_);
  const AVPixelFormat other = own == AV_PIX_FMT_NV12 ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_NV12;
  AVPixelFormat fmt;
  if (accepts(codec, own)) {
    fmt = own;
  } else if (accepts(codec, other)) {
    fmt = other;
  } else {
    throw std::runtime_error("encoder '" + name + "' accepts neither nv12 nor yuv420p input");
  }
  AVCodecContext *ctx = avcodec_alloc_context3(codec);
  ctx->width = width_;
  ctx->height = height_;
  ctx->pix_fmt = fmt;
  ctx->time_base = AVRational{1, config.fps};
  ctx->framerate = AVRational{config.fps, 1};
  ctx->bit_rate = config.bitrate;
  ctx->gop_size = config.gop;
  ctx->max_b_frames = 0;
  ctx->color_range = AVCOL_RANGE_MPEG;
  const bool x265 = name == "libx265", x264 = name == "libx264", nvenc = name.find("nvenc") != std::string::npos;
  std::string params = x265 ? config.x265_params : x264 ? config.x264_params : "";
  if (x265 && params.find("log-level") == std::string::npos) {
    params = "log-level=warning" + (params.empty() ? "" : ":" + params);
  }
  AVDictionary *opts = nullptr;
  if (x265 || x264) {
    if (!config.preset.empty()) av_dict_set(&opts, "preset", config.preset.c_str(), 0);
    if (!config.tune.empty()) av_dict_set(&opts, "tune", config.tune.c_str(), 0);
    if (!params.empty()) av_dict_set(&opts, x265 ? "x265-params" : "x264-params", params.c_str(), 0);
  } else if (nvenc) {
    // NVENC's own names for "fastest" and "low latency".
    av_dict_set(&opts, "preset", "p1", 0);
    av_dict_set(&opts, "tune", "ll", 0);
  }
  av_dict_set(&opts, "forced-idr", "1", 0);
  // NVENC probing on a machine without a GPU logs errors; they are expected there.
  std::string warnings;
  int err;
  {
    std::lock_guard<std::mutex> lk(open_mutex);
    int level = av_log_get_level();
    if (nvenc) av_log_set_level(AV_LOG_QUIET);
    opening = ctx;
    open_warnings.clear();
    av_log_set_callback(capture_log);
    err = avcodec_open2(ctx, codec, &opts);
    av_log_set_callback(av_log_default_callback);
    opening = nullptr;
    warnings.swap(open_warnings);
    av_log_set_level(level);
  }
  AVDictionaryEntry *unused = av_dict_get(opts, "", nullptr, AV_DICT_IGNORE_SUFFIX);
  std::string unused_key = unused ? unused->key : "";
  av_dict_free(&opts);
  if (err < 0) {
    avcodec_free_context(&ctx);
    throw std::runtime_error("encoder '" + name + "': cannot open " + std::to_string(width_) + "x" +
                             std::to_string(height_) + ": " + av_error(err));
  }
  if (warnings.find("option") != std::string::npos) {
    avcodec_free_context(&ctx);
    throw std::runtime_error("encoder '" + name + "' rejected an option in " + (x265 ? "x265" : "x264") +
                             " params '" + params + "': " + warnings);
  }
  if (!unused_key.empty() && unused_key != "forced-idr" && unused_key != "tune") {
    avcodec_free_context(&ctx);
    throw std::runtime_error("encoder '" + name + "' does not know option '" + unused_key + "'");
  }
  ctx_ = ctx;
  codec_name_ = name;
  // These wrappers copy the picture into the codec inside send_frame, so the
  // caller's buffer can be lent without a copy.
  borrow_ = name == "libx265" || name == "libx264";
  pix_fmt_ = fmt;
  if (!same_size) {
    sws_ = sws_getContext(input_width_, input_height_, own, width_, height_, fmt, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!sws_) {
      throw std::runtime_error("encoder '" + name + "': libswscale cannot scale " + av_get_pix_fmt_name(own) +
                               " to this size");
    }
  } else if (fmt != own) {
    chroma_pool_ = av_buffer_pool_init(size_t(width_ / 2) * (height_ / 2) * 2, nullptr);
  }
}

VideoEncoder::~VideoEncoder() { free_all(); }

const char *VideoEncoder::input_pixel_format() const { return av_get_pix_fmt_name(AVPixelFormat(pix_fmt_)); }

void VideoEncoder::encode(const conduit::Yuv420Frame &in, const FrameMeta &meta, bool force_keyframe,
                          std::function<void()> release, const PacketSink &sink) {
  Release *rel = new Release{std::move(release)};
  if (flushed_ || in.width != input_width_ || in.height != input_height_ || in.format() != input_format_) {
    release_buffer(rel, nullptr);
    if (flushed_) throw std::logic_error("encoder " + codec_name_ + ": encode() after flush()");
    throw std::invalid_argument("encoder " + codec_name_ + ": frame is " + std::to_string(in.width) + "x" +
                                std::to_string(in.height) + " " + conduit::pixel_format_name(in.format()) +
                                ", expected " + std::to_string(input_width_) + "x" + std::to_string(input_height_) +
                                " " + conduit::pixel_format_name(input_format_));
  }
  AVFrame *f = frame_;
  f->width = width_;
  f->height = height_;
  f->format = pix_fmt_;
  if (sws_) {
    // Scaling writes a new, smaller frame; the source is free right after.
    int err = av_frame_get_buffer(f, 0);
    if (err < 0) {
      release_buffer(rel, nullptr);
      throw std::runtime_error("encoder " + codec_name_ + ": frame allocation failed: " + av_error(err));
    }
    conduit::AvPlanes src = conduit::av_planes(in);
    sws_scale(sws_, src.data, src.linesize, 0, in.height, f->data, f->linesize);
    release_buffer(rel, nullptr);
  } else if (!borrow_) {
    // This codec may keep the frame after encode() returns: give it a private copy.
    int err = av_frame_get_buffer(f, 0);
    if (err < 0) {
      release_buffer(rel, nullptr);
      throw std::runtime_error("encoder " + codec_name_ + ": frame allocation failed: " + av_error(err));
    }
    copied_bytes_ += conduit::copy_frame(in, conduit::av_frame_view(f));
    release_buffer(rel, nullptr);
  } else {
    borrow_frame(in, f, rel);
  }
  f->pts = int64_t(frames_in_);
  f->pict_type = force_keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  pending_[f->pts] = meta;
  frames_in_++;
  int err = avcodec_send_frame(ctx_, f);
  av_frame_unref(f);
  if (err < 0) {
    pending_.erase(int64_t(frames_in_ - 1));
    throw std::runtime_error("encoder " + codec_name_ + ": send_frame failed: " + av_error(err));
  }
  drain(sink);
}

void VideoEncoder::borrow_frame(const conduit::Yuv420Frame &in, AVFrame *f, void *release) {
  Release *rel = static_cast<Release *>(release);
  // The AVBuffer only carries `release`: the planes below point into the caller's frame.
  f->buf[0] = av_buffer_create(in.y, size_t(in.end() - in.y), release_buffer, rel, AV_BUFFER_FLAG_READONLY);
  if (!f->buf[0]) {
    release_buffer(rel, nullptr);
    throw std::runtime_error("encoder " + codec_name_ + ": av_buffer_create failed");
  }
  conduit::AvPlanes planes = conduit::av_planes(in);
  if (planes.format == pix_fmt_) {
    std::copy(planes.data, planes.data + 4, f->data);
    std::copy(planes.linesize, planes.linesize + 4, f->linesize);
    return;
  }
  // The codec takes the other chroma arrangement: Y in place, chroma converted
  // into a pooled buffer that the AVFrame owns.
  int cw = width_ / 2, ch = height_ / 2;
  f->buf[1] = av_buffer_pool_get(chroma_pool_);
  if (!f->buf[1]) {
    av_frame_unref(f);
    throw std::runtime_error("encoder " + codec_name_ + ": chroma buffer allocation failed");
  }
  f->data[0] = in.y;
  f->linesize[0] = in.stride;
  f->data[1] = f->buf[1]->data;
  if (pix_fmt_ == AV_PIX_FMT_NV12) {
    f->linesize[1] = 2 * cw;
  } else {
    f->data[2] = f->buf[1]->data + size_t(cw) * ch;
    f->linesize[1] = f->linesize[2] = cw;
  }
  copied_bytes_ += conduit::copy_chroma(in, conduit::av_frame_view(f));
}

void VideoEncoder::flush(const PacketSink &sink) {
  if (flushed_) return;
  flushed_ = true;
  int err = avcodec_send_frame(ctx_, nullptr);
  if (err < 0) throw std::runtime_error("encoder " + codec_name_ + ": flush failed: " + av_error(err));
  drain(sink);
}

void VideoEncoder::drain(const PacketSink &sink) {
  bool hevc = ctx_->codec_id == AV_CODEC_ID_HEVC;
  while (true) {
    int err = avcodec_receive_packet(ctx_, packet_);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) throw std::runtime_error("encoder " + codec_name_ + ": receive_packet failed: " + av_error(err));
    EncodedPacket p{packet_->data, size_t(packet_->size), (packet_->flags & AV_PKT_FLAG_KEY) != 0, packet_->pts, {}, {}};
    auto it = pending_.find(packet_->pts);
    if (it != pending_.end()) {
      p.meta = it->second;
      pending_.erase(it);
    }
    if (p.keyframe) p.header = parameter_sets(p.data, p.size, hevc);
    sink(p);
    av_packet_unref(packet_);
  }
}

}  // namespace encoderd
