#pragma once
// Where logs live on disk (docs/architecture.md "Files on disk"), and how a user names
// them. A log spec is one of:
//   <path>/rlog.zst (or qlog, rlog, ...)   one file
//   <root>/<route>--<n>                    one segment (its rlog, or qlog)
//   <root>/<route>                         every segment of the route, in order
//   <root>/<route>/<a>:<b> (or /<a>, /<a>:, /:<b>)   segments numbered a <= n < b;
//                                          negative bounds count from the newest (-1: the last)
//   <route>[/<a>:<b>]                      a bare route name: under the log root, else here
// This is the one resolver: lr, replay, mcap_export and the Python tools
// (tools/lib/route.py, through LogReader's binding) all name routes this way.
// Errors: std::invalid_argument naming the spec and what was expected.
#include <string>
#include <vector>

namespace loggerd {

// $CONDUIT_LOG_ROOT, or ./data/routes.
std::string log_root();

struct SegmentDir {
  std::string route;  // route name, without "--<n>"
  int number;
  std::string path;
};

// Segment directories under `root`, sorted by route name then number. Ignores other entries.
std::vector<SegmentDir> list_segments(const std::string &root);

// The log files a spec names, in order. `qlog` picks qlog instead of rlog for
// segments and routes. Segments of a route without that log are reported in
// `missing` (when given) and skipped. `root` is the log root for bare route
// names ("": log_root()).
std::vector<std::string> resolve_logs(const std::string &spec, bool qlog = false, std::vector<std::string> *missing = nullptr,
                                      const std::string &root = "");

}  // namespace loggerd
