#pragma once
// LogFile: every Event of one log file (rlog.zst / qlog.zst), decompressed and
// validated, in file order.
//
//   LogFile log = LogFile::read("route--0/rlog.zst");
//   for (const LogEvent &e : log.events()) publish(e.service, e.bytes());
//
// Format (DESIGN.md, "Files on disk"): a series of complete zstd frames whose
// concatenated content is a sequence of Cap'n Proto flat-framed Events.
// Ownership: a LogFile owns one buffer holding every event; LogEvent::bytes()
// points into it and Event readers made from it live as long as the LogFile.
// Errors: LogError with the file, byte offset and what was expected — missing
// file, bad zstd frame, a malformed event. A file that ends inside a zstd frame
// or inside an event (the writer was killed) is not an error: the complete events
// are kept and truncated() says how many bytes were lost.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include "cereal/gen/log.capnp.h"

namespace replay {

struct LogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LogEvent {
  uint64_t mono_time;             // Event.logMonoTime
  cereal::Event::Which which;     // union member
  std::string_view service;       // its name (static storage)
  const capnp::word *words;       // the whole flat-framed message
  size_t size_words;

  const char *data() const { return reinterpret_cast<const char *>(words); }
  size_t size() const { return size_words * sizeof(capnp::word); }
  kj::ArrayPtr<const capnp::word> bytes() const { return {words, size_words}; }
};

// Name of an Event union member ("roadEncodeIdx", ...), from the compiled schema.
std::string_view service_name(cereal::Event::Which which);

class LogFile {
 public:
  static LogFile read(const std::string &path);
  // The events in `data` (a whole compressed file); `path` only names it in errors.
  static LogFile parse(std::string_view data, const std::string &path);
  // Only the first event's logMonoTime, decompressing as little as possible.
  static uint64_t first_mono_time(const std::string &path);

  const std::vector<LogEvent> &events() const { return events_; }
  uint64_t truncated() const { return truncated_bytes_; }

 private:
  std::vector<capnp::word> buffer_;  // moving a LogFile keeps LogEvent pointers valid
  std::vector<LogEvent> events_;
  uint64_t truncated_bytes_ = 0;
};

}  // namespace replay
