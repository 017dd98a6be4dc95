#include "tools/replay/log_file.h"

#include <cstring>
#include <memory>

#include <capnp/schema.h>
#include <capnp/serialize.h>

#include "cereal/event_check.h"
#include "loggerd/log_file_reader.h"

namespace replay {

namespace {

// Union member names by discriminant, built once from the compiled schema.
const std::vector<std::string> &member_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (auto field : capnp::Schema::from<cereal::Event>().getUnionFields()) {
      uint16_t d = field.getProto().getDiscriminantValue();
      if (out.size() <= d) out.resize(d + 1);
      out[d] = field.getProto().getName().cStr();
    }
    return out;
  }();
  return names;
}

std::unique_ptr<loggerd::LogFileReader> open(const std::string &path) {
  try {
    return std::make_unique<loggerd::LogFileReader>(path);
  } catch (const std::exception &e) {
    throw LogError(e.what());
  }
}

}  // namespace

std::string_view service_name(cereal::Event::Which which) {
  const auto &names = member_names();
  size_t i = static_cast<size_t>(which);
  return i < names.size() ? std::string_view(names[i]) : std::string_view();
}

LogFile LogFile::read(const std::string &path) {
  auto reader = open(path);
  LogFile log;
  std::vector<std::pair<size_t, size_t>> spans;  // word offset, words
  std::string_view ev;
  while (reader->next(ev)) {
    size_t words = ev.size() / sizeof(capnp::word), at = log.buffer_.size();
    log.buffer_.resize(at + words);
    std::memcpy(log.buffer_.data() + at, ev.data(), words * sizeof(capnp::word));
    spans.emplace_back(at, words);
  }
  if (!reader->warning().empty()) log.damage_ = reader->warning() + ": playing those, skipping the rest";

  const auto &names = member_names();
  size_t index = 0;
  for (auto [at, words] : spans) {
    const capnp::word *w = log.buffer_.data() + at;
    if (auto problem = cereal::event_problem(kj::arrayPtr(w, words))) {
      log.bad_events_++;
      if (log.bad_events_ == 1) log.bad_event_note_ = "event #" + std::to_string(index) + " (" + *problem + ")";
    } else {
      capnp::FlatArrayMessageReader msg(kj::arrayPtr(w, words));
      auto event = msg.getRoot<cereal::Event>();
      auto which = event.which();
      // Members newer than this build's schema are not replayed.
      if (size_t(which) < names.size()) log.events_.push_back({event.getLogMonoTime(), which, service_name(which), w, words});
    }
    index++;
  }
  if (log.bad_events_ > 0) {
    const std::string skipped = path + ": skipped " + std::to_string(log.bad_events_) +
                                " event(s) that are not readable Events, the first " + log.bad_event_note_;
    log.damage_ = log.damage_.empty() ? skipped : log.damage_ + "; " + skipped;
  }
  if (log.events_.empty()) {
    throw LogError(log.damage_.empty() ? path + ": no events (expected initData first)" : log.damage_);
  }
  return log;
}

uint64_t LogFile::first_mono_time(const std::string &path) {
  auto reader = open(path);
  std::string_view ev;
  if (!reader->next(ev)) {
    throw LogError(reader->warning().empty() ? path + ": no events" : reader->warning());
  }
  try {
    capnp::FlatArrayMessageReader msg(
        kj::arrayPtr(reinterpret_cast<const capnp::word *>(ev.data()), ev.size() / sizeof(capnp::word)));
    return msg.getRoot<cereal::Event>().getLogMonoTime();
  } catch (const kj::Exception &e) {
    throw LogError(path + ": malformed first event (" + e.getDescription().cStr() + ")");
  }
}

}  // namespace replay
