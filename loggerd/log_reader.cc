// LogReader: files in order, each event checked as an Event before it is returned.
#include "loggerd/log_reader.h"

#include <stdexcept>

#include "cereal/event_check.h"
#include "loggerd/route.h"

namespace loggerd {

LogReader::LogReader(const std::string &spec, LogReaderOptions opts) : opts_(opts) {
  std::vector<std::string> missing;
  files_ = resolve_logs(spec, opts_.qlog, &missing);
  for (auto &m : missing) warn(m);
  if (files_.empty()) throw std::invalid_argument("log spec '" + spec + "' names no log file");
}

void LogReader::warn(const std::string &w) {
  if (opts_.strict) throw std::runtime_error(w);
  warnings_.push_back(w);
}

bool LogReader::next() {
  msg_.reset();
  for (;;) {
    if (!file_) {
      if (file_index_ >= files_.size()) return false;
      try {
        file_ = std::make_unique<LogFileReader>(files_[file_index_], opts_.strict);
      } catch (const std::runtime_error &e) {
        if (opts_.strict) throw;
        warn(e.what());
        file_index_++;
        continue;
      }
    }
    std::string_view ev;
    if (file_->next(ev)) {
      kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word *>(ev.data()), ev.size() / 8);
      if (auto problem = cereal::event_problem(words)) {
        bad_events_++;
        warn(files_[file_index_] + ": event " + std::to_string(file_->events() - 1) + " is not a readable Event (" +
             *problem + "); skipped it");
        continue;
      }
      msg_.emplace(words);
      event_ = msg_->getRoot<cereal::Event>();
      bytes_ = ev;
      return true;
    } else if (!file_->warning().empty()) {
      warn(file_->warning());
    }
    file_.reset();
    if (file_index_ + 1 >= files_.size()) {
      file_index_ = files_.size() - 1;
      return false;
    }
    file_index_++;
  }
}

}  // namespace loggerd
