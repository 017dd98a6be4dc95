#include "tools/replay/log_file.h"

#include <cstring>
#include <memory>

#include <capnp/schema.h>
#include <capnp/serialize.h>

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
  log.damage_ = reader->warning();

  const auto &names = member_names();
  for (auto [at, words] : spans) {
    const capnp::word *w = log.buffer_.data() + at;
    try {
      capnp::FlatArrayMessageReader msg(kj::arrayPtr(w, words));
      auto event = msg.getRoot<cereal::Event>();
      event.totalSize();  // walks every pointer: a corrupt event throws here
      auto which = event.which();
      // Members newer than this build's schema are not replayed.
      if (size_t(which) < names.size()) log.events_.push_back({event.getLogMonoTime(), which, service_name(which), w, words});
    } catch (const kj::Exception &e) {
      log.damage_ = path + ": malformed event #" + std::to_string(log.events_.size()) + " (" +
                    e.getDescription().cStr() + "); " + std::to_string(log.events_.size()) +
                    " intact events before it were read";
      break;
    }
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
