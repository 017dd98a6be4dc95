#pragma once
// LogReader: the Events of a log file, a segment or a route range (route.h
// specs), in order, as cereal::Event readers.
//
//   loggerd::LogReader lr("data/routes/2026-11-24--18-52-19/2:5");
//   while (lr.next()) if (lr.event().isCan()) ...;
//   for (auto &w : lr.warnings()) fprintf(stderr, "%s\n", w.c_str());
//
// A damaged file (LogFileReader) ends that file with a warning and reading goes
// on with the next file. An event that is well framed but not a readable Event
// (cereal/event_check.h) is skipped alone, with a warning naming its file and
// index, and counted in bad_events(); what follows it is read. Strict mode
// throws std::runtime_error instead of warning. A spec naming nothing throws std::invalid_argument.
// event() and bytes() are valid until the next call of next(). One thread.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <capnp/serialize.h>

#include "cereal/gen/log.capnp.h"
#include "loggerd/log_file_reader.h"

namespace loggerd {

struct LogReaderOptions {
  bool qlog = false;    // segments and routes: read qlog instead of rlog
  bool strict = false;  // throw on damage instead of warning
};

class LogReader {
 public:
  explicit LogReader(const std::string &spec, LogReaderOptions opts = {});
  bool next();
  cereal::Event::Reader event() const { return event_; }
  std::string_view bytes() const { return bytes_; }
  const std::string &current_file() const { return files_[std::min(file_index_, files_.size() - 1)]; }
  const std::vector<std::string> &files() const { return files_; }
  const std::vector<std::string> &warnings() const { return warnings_; }
  uint64_t bad_events() const { return bad_events_; }

 private:
  void warn(const std::string &w);

  LogReaderOptions opts_;
  std::vector<std::string> files_, warnings_;
  size_t file_index_ = 0;
  uint64_t bad_events_ = 0;
  std::unique_ptr<LogFileReader> file_;
  std::optional<capnp::FlatArrayMessageReader> msg_;
  cereal::Event::Reader event_;
  std::string_view bytes_;
};

}  // namespace loggerd
