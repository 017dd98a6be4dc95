#pragma once
// ZstdLogFile: a log (rlog/qlog) as a series of complete zstd frames, each
// with a content checksum, written through the Writer. Every frame holds whole
// events; a frame ends (and becomes one Writer unit) on flush(), when
// maybe_flush() finds the frame older than the flush interval, or when the
// frame holds `max_frame_bytes` of input. So a crash loses at most the open
// frame, and a reader can check every frame it returns.
//
// Threads: one thread, the Writer's.
#include <zstd.h>

#include <cstdint>
#include <string>

#include "loggerd/writer.h"

namespace loggerd {

struct ZstdLogOptions {
  int level = 3;
  uint64_t flush_interval_ns = 200'000'000;
  size_t max_frame_bytes = 1 << 20;  // input bytes; bounds the memory an open frame holds
};

class ZstdLogFile {
 public:
  // Opens `path` through `writer` (which must outlive this object).
  ZstdLogFile(Writer &writer, const std::string &path, ZstdLogOptions opts = {});
  ~ZstdLogFile();  // close()
  ZstdLogFile(const ZstdLogFile &) = delete;
  ZstdLogFile &operator=(const ZstdLogFile &) = delete;

  // Appends one serialized event. now_ns: CLOCK_MONOTONIC, starts the flush clock of a new frame.
  void write(const void *data, size_t size, uint64_t now_ns);
  // Ends the open frame if it is older than the flush interval.
  void maybe_flush(uint64_t now_ns);
  // Ends the open frame, if any.
  void flush();
  // flush(), then hands the file to the Writer to finish (fsync, lock removal).
  void close();

  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t events() const { return events_; }
  uint64_t frames() const { return frames_; }
  const std::string &path() const { return path_; }

 private:
  void compress(const void *data, size_t size, ZSTD_EndDirective mode);

  Writer &writer_;
  AppendFile *file_;
  std::string path_;
  ZstdLogOptions opts_;
  ZSTD_CCtx *cctx_;
  bool frame_open_ = false;
  uint64_t frame_start_ns_ = 0, frame_bytes_ = 0;
  uint64_t bytes_in_ = 0, events_ = 0, frames_ = 0;
};

}  // namespace loggerd
