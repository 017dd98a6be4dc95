#pragma once
// Route: the segments of a recorded route that replay plays, found from a log
// spec (loggerd/route.h: <root>/<route>, <root>/<route>/<a>:<b>, <root>/<route>--<n>,
// or one log file). A spec without '/' is a route name under `data_dir`.
//
//   Route route = Route::open("2026-11-24--18-50-00/2:5", "/data/routes");
//   for (const SegmentFiles &s : route.segments()) load(s.log);
//
// Segments missing from the numbering are gaps(); segment directories without
// the log are listed in missing() — replay reports both and steps over them.
// Errors: RouteError naming the spec and what was expected. Immutable after open().
#include <stdexcept>
#include <string>
#include <vector>

namespace replay {

struct RouteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SegmentFiles {
  int number = 0;
  std::string dir;  // <root>/<route>--<number>
  std::string log;  // its rlog (or qlog)
  std::string file(const std::string &name) const { return dir + "/" + name; }
};

class Route {
 public:
  static Route open(const std::string &spec, const std::string &data_dir, bool qlog = false);

  const std::string &name() const { return name_; }
  const std::vector<SegmentFiles> &segments() const { return segments_; }
  const std::vector<int> &gaps() const { return gaps_; }
  const std::vector<std::string> &missing() const { return missing_; }

 private:
  std::string name_;
  std::vector<SegmentFiles> segments_;
  std::vector<int> gaps_;
  std::vector<std::string> missing_;
};

// $CONDUIT_LOG_ROOT, else ./data/routes (as loggerd::log_root()).
std::string default_data_dir();

}  // namespace replay
