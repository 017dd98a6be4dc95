#include "tools/replay/route.h"

#include <filesystem>
#include <regex>

#include "loggerd/route.h"

namespace fs = std::filesystem;

namespace replay {

std::string default_data_dir() { return loggerd::log_root(); }

Route Route::open(const std::string &spec, const std::string &data_dir, bool qlog) {
  if (spec.empty()) throw RouteError("no route given: expected a route name, <root>/<route>[/a:b] or a segment");
  Route r;
  std::vector<std::string> logs;
  try {
    logs = loggerd::resolve_logs(spec, qlog, &r.missing_, data_dir);
  } catch (const std::invalid_argument &e) {
    throw RouteError(std::string("route not found: ") + e.what());
  }
  if (logs.empty()) {
    throw RouteError("route '" + spec + "': no segment in range has a " + (qlog ? "qlog" : "rlog"));
  }
  static const std::regex segment_dir(R"((.+)--(\d{1,9}))");
  for (const auto &log : logs) {
    SegmentFiles s;
    s.log = log;
    s.dir = fs::path(log).parent_path().string();
    if (s.dir.empty()) s.dir = ".";
    std::smatch m;
    std::string base = fs::path(s.dir).filename().string();
    if (std::regex_match(base, m, segment_dir)) {
      s.number = std::stoi(m[2]);
      if (r.name_.empty()) r.name_ = m[1];
    }
    if (!r.segments_.empty() && s.number > r.segments_.back().number + 1) {
      for (int n = r.segments_.back().number + 1; n < s.number; ++n) r.gaps_.push_back(n);
    }
    r.segments_.push_back(s);
  }
  if (r.name_.empty()) r.name_ = fs::path(logs[0]).filename().string();
  return r;
}

}  // namespace replay
