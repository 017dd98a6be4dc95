#pragma once
// Plays a video file as a camera: any container and codec libavformat and
// libavcodec read (H.265, H.264, ...), converted and scaled with libswscale to
// the caller's buffer layout (NV12 or I420) at the camera's size, written
// straight into that buffer.
//
// Real-time: frame(t) gives the frame on screen t nanoseconds after playback
// started, from the file's timestamps (so a 30 fps file plays at its own speed
// under a 20 fps camera: frames are dropped or repeated). Files without
// timestamps play one frame per `fallback_fps` tick. With loop = true playback
// restarts at the end, forever.
//
// Threads: one thread per source. Errors: std::runtime_error naming the file and
// what failed (missing file, not a regular file such as a FIFO, no video stream,
// no decoder, corrupt data, no frame that decodes). frame() returns false only
// at the end of a non-looping file that had frames.
#include <cstdint>
#include <string>

#include "common/yuv420.h"

struct AVFormatContext;
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
struct SwsContext;

namespace camerad {

class VideoFileSource {
 public:
  VideoFileSource(const std::string &path, int width, int height, bool loop, int fallback_fps = 20);
  ~VideoFileSource();
  VideoFileSource(const VideoFileSource &) = delete;
  VideoFileSource &operator=(const VideoFileSource &) = delete;

  // Writes the frame showing at playback time t_ns (non-decreasing across calls)
  // into dst. Returns false once a non-looping file has ended.
  bool frame(uint64_t t_ns, const conduit::Yuv420Frame &dst);

  int source_width() const { return source_width_; }
  int source_height() const { return source_height_; }
  uint64_t loops() const { return loops_; }
  uint64_t frames_decoded() const { return decoded_; }

 private:
  void open();
  void close();
  void free_all();
  bool decode_next();  // into next_; false at end of file

  std::string path_;
  int width_, height_;
  bool loop_;
  int fallback_fps_;
  AVFormatContext *fmt_ = nullptr;
  AVCodecContext *dec_ = nullptr;
  AVPacket *pkt_ = nullptr;
  AVFrame *current_ = nullptr, *next_ = nullptr;
  SwsContext *sws_ = nullptr;
  int stream_ = -1;
  int source_width_ = 0, source_height_ = 0;
  bool have_current_ = false, have_next_ = false, eof_ = false, draining_ = false;
  int64_t first_pts_ = INT64_MIN;
  uint64_t next_ns_ = 0, last_ns_ = 0, frame_ns_ = 0;  // playback times within the current loop
  uint64_t loop_offset_ = 0, loops_ = 0, decoded_ = 0, decoded_this_loop_ = 0;
};

}  // namespace camerad
