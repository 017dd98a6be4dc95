#pragma once
// RouteLogger: the files of one route, one segment at a time, through a Writer.
//
//   <root>/<route>--<n>/rlog.zst   every logged event
//                       qlog.zst   the events the caller marks for qlog
//                       fcamera.hevc ...  video streams, opened on first use
//
// start_segment() writes initData and a sentinel (startOfRoute for the first
// segment, startOfSegment after) to both logs; end_segment() writes the closing
// sentinel (endOfSegment, or endOfRoute with the signal number) and hands every
// file to the Writer to close (fsync, lock removal).
// Errors: a segment directory that cannot be created throws std::runtime_error.
// Threads: one thread, the Writer's.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cereal/messaging.h"
#include "loggerd/writer.h"
#include "loggerd/zstd_log_file.h"

namespace loggerd {

class RouteLogger {
 public:
  using InitBuilder = std::function<void(cereal::MessageBuilder &)>;
  RouteLogger(Writer &writer, std::string root, std::string route, ZstdLogOptions log_opts, InitBuilder init);
  ~RouteLogger();  // ends an open segment as endOfRoute, signal 0

  void start_segment(int number);
  void end_segment(bool end_of_route, int signal = 0);

  // One serialized Event; goes to rlog, and to qlog when `qlog`.
  void log(const void *data, size_t size, bool qlog, uint64_t now_ns);
  // The video file `name` of the open segment (opened on first use, with
  // dependent units: a failed write makes the stream restart, see writer.h).
  AppendFile *video(const std::string &name);
  // True once after a failed write to the open video `name`: what followed
  // was dropped, and the stream must go on with a keyframe and its header.
  bool video_gap(const std::string &name);
  // Ends log frames older than the flush interval.
  void maybe_flush(uint64_t now_ns);

  bool open() const { return rlog_ != nullptr; }
  int segment() const { return segment_; }
  const std::string &segment_path() const { return path_; }
  const std::string &route() const { return route_; }
  uint64_t bytes_logged() const { return bytes_logged_; }
  uint64_t flushes() const { return flushes_; }

 private:
  void sentinel(int type, int signal);

  Writer &writer_;
  std::string root_, route_, path_;
  ZstdLogOptions log_opts_;
  InitBuilder init_;
  int segment_ = -1;
  std::unique_ptr<ZstdLogFile> rlog_, qlog_;
  std::map<std::string, AppendFile *> videos_;
  std::vector<uint64_t> scratch_;
  uint64_t bytes_logged_ = 0, flushes_ = 0;
};

}  // namespace loggerd
