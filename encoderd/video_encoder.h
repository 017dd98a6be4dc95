#pragma once
// One video encoder over libavcodec: 4:2:0 frames in (NV12 or I420, see
// common/yuv420.h), H.265 / H.264 packets out.
//
//   VideoEncoder enc(config, 1928, 1208, conduit::PixelFormat::kI420);
//   enc.encode(buf->frame(), meta, force_keyframe, [&]{ release(buf); }, [&](const EncodedPacket &p) {...});
//   enc.flush(sink);
//
// Zero copy: the codec is opened with the input's own pixel format when it
// accepts it (libx265: yuv420p only; libx264 and *_nvenc: both), and the
// AVFrame handed to it then points into `frame` itself (data pointers and line
// sizes of its planes), wrapped in an AVBuffer whose free callback is `release`.
// NV12 into libx265 cannot go that way: x265 3.5 declares X265_CSP_NV12 only
// as a future input format, and x265_encoder_encode rejects any picture whose
// colour space is not a planar one (i400/i420/i422/i444). There the Y plane is
// lent in place and the interleaved UV plane split into U and V (a copy of 1/3
// of the frame, counted in copied_bytes()); I420 input avoids it. When the
// output size differs (qcamera), libswscale scales into an encoder-owned frame.
// Lending needs a codec that is done with the frame when send_frame returns
// (libx265, libx264); any other codec (e.g. hevc_nvenc) gets a private copy
// of the whole frame, counted too.
//
// Ownership: `release` is called exactly once, as soon as libavcodec drops its
// last reference to the frame — possibly before encode() returns, never after
// the encoder is destroyed. Until then `frame` must stay valid and unchanged.
// Threads: one thread uses one VideoEncoder. Packets reach `sink` synchronously
// inside encode()/flush(); the data is valid only during the call. A codec with
// frame threads hands out a frame's packet during a later encode() (or flush()).
// Errors: std::runtime_error naming the codec and what failed (unknown codec,
// unsupported pixel format, open failure with libavcodec's message).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/yuv420.h"

struct AVCodecContext;
struct AVBufferPool;
struct SwsContext;
struct AVFrame;
struct AVPacket;

namespace encoderd {

struct EncoderConfig {
  // libavcodec encoder name, or "auto-hevc": hevc_nvenc when it opens (a GPU with
  // NVENC is present), libx265 otherwise.
  std::string codec = "auto-hevc";
  int width = 0, height = 0;  // output size; 0 = input size
  int fps = 20;
  int64_t bitrate = 5'000'000;  // bits per second
  int gop = 20;                 // frames between keyframes (segment starts force one too)
  // libx265 / libx264 only (NVENC uses its fastest low-latency preset).
  std::string preset = "ultrafast";
  std::string tune = "zerolatency";
  // Extra x265-params / x264-params ("key=value:key=value"), used only when that
  // encoder is the one opened. The x265 default trades compression and some
  // visual quality for about 40% less CPU than plain ultrafast (measured with
  // encoderd/bench): 32x32 coding units only, the cheapest RD, no psycho-visual
  // RD, no adaptive quantization, no deblocking filter (the synthetic road scene
  // still decodes at ~49 dB PSNR at 5 Mbps). Drop "no-deblock=1" where CPU allows.
  // frame-threads=2 (zerolatency alone means 1) lets x265 start a frame while
  // the previous one finishes: ~10% more frames/s on 2 cores, so it keeps 20 fps
  // while modeld and camerad take turns on the cores (pipeline bench, default
  // case: 0 encoder drops in each of 5 runs, against 4 drops in 1 of 4 runs with
  // 1 frame thread). It costs ~2-5% more CPU per frame (paired encoder bench
  // runs) and one frame (50 ms) of latency: packets come out a frame later.
  std::string x265_params = "ctu=32:min-cu-size=32:rd=1:psy-rd=0:aq-mode=0:no-deblock=1:frame-threads=2";
  std::string x264_params;
};

struct FrameMeta {
  uint32_t frame_id = 0;
  uint64_t timestamp_sof = 0, timestamp_eof = 0;
};

struct EncodedPacket {
  const uint8_t *data;
  size_t size;
  bool keyframe;
  int64_t index;          // 0, 1, 2 ... frames fed to this encoder, in display order
  FrameMeta meta;         // of the frame this packet encodes
  std::string header;     // parameter sets (VPS/SPS/PPS) on keyframes, empty otherwise
};

using PacketSink = std::function<void(const EncodedPacket &)>;

class VideoEncoder {
 public:
  VideoEncoder(const EncoderConfig &config, int input_width, int input_height,
               conduit::PixelFormat input_format = conduit::PixelFormat::kNv12);
  ~VideoEncoder();
  VideoEncoder(const VideoEncoder &) = delete;
  VideoEncoder &operator=(const VideoEncoder &) = delete;

  // Encodes one frame (input size and format, any strides). Throws
  // std::invalid_argument on a frame of another size or format; release is still called then.
  void encode(const conduit::Yuv420Frame &frame, const FrameMeta &meta, bool force_keyframe,
              std::function<void()> release, const PacketSink &sink);
  // Drains every frame still inside the codec. The encoder accepts no frame after.
  void flush(const PacketSink &sink);

  const std::string &codec_name() const { return codec_name_; }
  const char *input_pixel_format() const;   // what the codec takes: "nv12" or "yuv420p"
  conduit::PixelFormat input_format() const { return input_format_; }  // what encode() takes
  int input_width() const { return input_width_; }
  int input_height() const { return input_height_; }
  int width() const { return width_; }
  int height() const { return height_; }
  bool scales() const { return sws_ != nullptr; }
  uint64_t frames_in() const { return frames_in_; }
  uint64_t copied_bytes() const { return copied_bytes_; }  // frame bytes memcpy'd before the codec

 private:
  void open(const std::string &name, const EncoderConfig &config);
  void free_all();
  void drain(const PacketSink &sink);
  void borrow_frame(const conduit::Yuv420Frame &in, AVFrame *f, void *release);

  std::string codec_name_;
  AVCodecContext *ctx_ = nullptr;
  AVBufferPool *chroma_pool_ = nullptr;
  SwsContext *sws_ = nullptr;
  AVFrame *frame_ = nullptr;
  AVPacket *packet_ = nullptr;
  int input_width_, input_height_, width_, height_;
  conduit::PixelFormat input_format_;
  int pix_fmt_ = -1;
  bool flushed_ = false;
  bool borrow_ = false;  // the codec is done with a frame when send_frame returns
  uint64_t frames_in_ = 0, copied_bytes_ = 0;
  std::map<int64_t, FrameMeta> pending_;  // pts -> meta of frames inside the codec
};

// Parameter-set NAL units (H.265 VPS/SPS/PPS, H.264 SPS/PPS) found at the
// start of an Annex-B packet, with their start codes; empty when none.
std::string parameter_sets(const uint8_t *data, size_t size, bool hevc);

}  // namespace encoderd
