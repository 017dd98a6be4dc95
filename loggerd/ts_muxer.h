#pragma once
// TsMuxer: H.264 packets (Annex B, parameter sets in band) into an MPEG-TS
// file (qcamera.ts) written through the Writer. libavformat's mpegts muxer
// does the container; its output goes to the AppendFile, and every packet
// ends one Writer unit, so a crash leaves whole TS packets only.
//
// Timestamps: 90 kHz, from each packet's timestampSof relative to the first
// packet of the file. Errors: the constructor throws std::runtime_error naming
// what libavformat refused; write() returns false for a packet the muxer
// rejects (e.g. no Annex B start code) and writes nothing for it.
// Threads: one thread, the Writer's.
#include <cstdint>
#include <string>

#include "loggerd/writer.h"

struct AVFormatContext;
struct AVIOContext;

namespace loggerd {

class TsMuxer {
 public:
  TsMuxer(AppendFile *file, int width, int height);
  ~TsMuxer();  // writes the trailer; the caller closes the file afterwards
  TsMuxer(const TsMuxer &) = delete;
  TsMuxer &operator=(const TsMuxer &) = delete;

  bool write(const uint8_t *data, size_t size, bool keyframe, uint64_t timestamp_ns);
  const std::string &last_error() const { return error_; }

 private:
  static int write_cb(void *opaque, uint8_t *buf, int size);  // FFmpeg 5 signature

  AppendFile *file_;
  AVFormatContext *fmt_ = nullptr;
  AVIOContext *io_ = nullptr;
  uint64_t first_ns_ = 0;
  int64_t last_pts_ = -1;
  bool started_ = false;
  std::string error_;
};

}  // namespace loggerd
