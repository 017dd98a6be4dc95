#pragma once
// Route: the segments of one recorded route on disk, found by name or path.
//
//   Route route = Route::open("2026-11-24--18-50-00", "/data/routes");
//   for (const SegmentFiles &s : route.segments()) load(s.dir);
//
// Layout (DESIGN.md): <log_root>/<route>--<n>/ holding rlog.zst, qlog.zst and
// the video files. `spec` is a route name under `data_dir`, a path to a route
// (<dir>/<route>), or a path/name of one segment (<route>--<n>, only that one).
// Segments missing from the numbering are gaps: they are listed in gaps() and
// replay steps over them. Errors: RouteError naming where it looked and what it
// found. Threads: immutable after open().
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace replay {

struct RouteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SegmentFiles {
  int number = 0;
  std::string dir;  // <data_dir>/<route>--<number>
  std::string log() const { return dir + "/rlog.zst"; }
  std::string qlog() const { return dir + "/qlog.zst"; }
  std::string file(const std::string &name) const { return dir + "/" + name; }
};

// Inclusive range of segment numbers; `last` empty means to the end.
struct SegmentRange {
  int first = 0;
  std::optional<int> last;
  // "3", "3:5", "3:" ; throws RouteError on anything else.
  static SegmentRange parse(const std::string &text);
};

class Route {
 public:
  static Route open(const std::string &spec, const std::string &data_dir, SegmentRange range = {});

  const std::string &name() const { return name_; }
  const std::string &dir() const { return dir_; }
  const std::vector<SegmentFiles> &segments() const { return segments_; }
  // Segment numbers absent between the first and the last one found.
  const std::vector<int> &gaps() const { return gaps_; }

 private:
  std::string name_, dir_;
  std::vector<SegmentFiles> segments_;
  std::vector<int> gaps_;
};

// $CONDUIT_LOG_ROOT, else ./data/routes (common/prefix.py log_root()).
std::string default_data_dir();

}  // namespace replay
