#pragma once
// FrameReader: random access to the frames of one segment video (fcamera.hevc,
// ecamera.hevc, dcamera.hevc, qcamera.ts), decoded with libavcodec.
//
//   FrameReader fr("route--0/fcamera.hevc");
//   fr.get(42, buf->frame());   // packet 42 in the buffer's layout (NV12 or I420)
//
// Frames are addressed by packet index in the file, which is EncodeIndex's
// segmentIdEncode. open() demuxes the whole file into memory (a segment's
// packets are a few MB) and notes the keyframes; get(i) decodes forward when i
// follows the last frame decoded, otherwise from the keyframe at or before i,
// so a seek costs at most one GOP of decoding.
// Threads: one thread at a time. Errors: FrameError naming the file and what
// failed (no video stream, decoder refused, packet not decodable, size mismatch).
#include <cstdint>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/yuv420.h"

struct AVCodecContext;
struct AVFrame;
struct AVPacket;
struct SwsContext;

namespace replay {

struct FrameError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class FrameReader {
 public:
  // decode_threads: libavcodec threads (0 = one per core).
  explicit FrameReader(const std::string &path, int decode_threads = 0);
  ~FrameReader();
  FrameReader(const FrameReader &) = delete;
  FrameReader &operator=(const FrameReader &) = delete;

  size_t size() const { return packets_.size(); }
  int width() const { return width_; }
  int height() const { return height_; }
  bool is_keyframe(size_t i) const { return keyframes_.at(i); }
  const std::string &path() const { return path_; }

  // Decodes packet i and writes it into dst (its size, in dst's layout: NV12 or
  // I420). Throws FrameError if i is out of range or the packet cannot be decoded.
  void get(size_t i, const conduit::Yuv420Frame &dst);
  // Decodes packet i into the cache without converting it, so a later get(i) is
  // only a copy. Cheap no-op when i is out of range or already decoded.
  void prefetch(size_t i);
  // Packets decoded so far (seeks decode packets that are never shown).
  uint64_t packets_decoded() const { return packets_decoded_; }

 private:
  struct Decoded;
  // The decoded frame of packet i (owned by the cache).
  AVFrame *decode(size_t i);
  void restart_at(size_t keyframe);
  void send(AVPacket *pkt);

  std::string path_;
  std::vector<AVPacket *> packets_;
  std::vector<bool> keyframes_;
  AVCodecContext *ctx_ = nullptr;
  SwsContext *sws_ = nullptr;
  int width_ = 0, height_ = 0;
  size_t next_packet_ = 0;      // next packet to send to the decoder
  int64_t last_output_ = -1;    // packet index of the last frame the decoder returned
  bool draining_ = false;       // end of file was signalled; restart before sending again
  std::deque<AVFrame *> ready_; // decoded frames, pts = packet index, ascending
  uint64_t packets_decoded_ = 0;
};

}  // namespace replay
