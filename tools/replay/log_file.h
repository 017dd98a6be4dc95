#pragma once
// LogFile: every Event of one log file (rlog.zst / qlog.zst) held in memory,
// validated, in file order — what replay needs to jump around a segment.
//
//   LogFile log = LogFile::read("route--0/rlog.zst");
//   for (const LogEvent &e : log.events()) publish(e.service, e.data(), e.size());
//
// Reading and damage detection are loggerd's LogFileReader (checked zstd frames,
// Cap'n Proto framing); on top, every event is checked once (cereal/event_check.h:
// a corrupt pointer is found here, never in a consumer) and indexed by time and
// service. An event that is not readable is skipped alone and counted in
// bad_events(); damage to the file's framing ends it there. Either way the
// intact events are kept and damage() says what was found where (a writer
// killed mid-frame looks like this too).
// Ownership: a LogFile owns one buffer holding every event; LogEvent points into
// it, and moving the LogFile keeps those pointers valid.
// Errors: LogError when the file cannot be opened or has no intact event.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>
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
  // Only the first event's logMonoTime, decoding as little as possible.
  static uint64_t first_mono_time(const std::string &path);

  const std::vector<LogEvent> &events() const { return events_; }
  // Empty when the whole file was intact.
  const std::string &damage() const { return damage_; }
  size_t bad_events() const { return bad_events_; }

 private:
  std::vector<capnp::word> buffer_;
  std::vector<LogEvent> events_;
  std::string damage_, bad_event_note_;
  size_t bad_events_ = 0;
};

}  // namespace replay
