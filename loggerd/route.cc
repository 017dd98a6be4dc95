// Route and segment naming on disk (see route.h).
#include "loggerd/route.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace loggerd {
namespace {

// "<route>--<n>" -> (route, n); false for any other name.
bool parse_segment_name(const std::string &name, std::string *route, int *number) {
  size_t dash = name.rfind("--");
  if (dash == std::string::npos || dash == 0 || dash + 2 >= name.size()) return false;
  std::string num = name.substr(dash + 2);
  if (num.size() > 9 || !std::all_of(num.begin(), num.end(), ::isdigit)) return false;
  *route = name.substr(0, dash);
  *number = std::stoi(num);
  return true;
}

std::string segment_log(const std::string &dir, bool qlog) {
  const char *base = qlog ? "qlog" : "rlog";
  for (std::string ext : {".zst", ""}) {
    std::string p = dir + "/" + base + ext;
    if (fs::is_regular_file(p)) return p;
  }
  return "";
}

// Parses "a", "a:b", "a:", ":b".
bool parse_range(const std::string &s, int *lo, int *hi) {
  auto num = [](const std::string &t, int *out) {
    if (t.empty() || t.size() > 9) return false;
    size_t i = t[0] == '-' ? 1 : 0;
    if (i == t.size() || !std::all_of(t.begin() + i, t.end(), ::isdigit)) return false;
    *out = std::stoi(t);
    return true;
  };
  size_t colon = s.find(':');
  if (colon == std::string::npos) {
    if (!num(s, lo)) return false;
    *hi = *lo == -1 ? INT32_MAX : *lo + 1;
    return true;
  }
  std::string a = s.substr(0, colon), b = s.substr(colon + 1);
  *lo = 0;
  *hi = INT32_MAX;
  return (a.empty() || num(a, lo)) && (b.empty() || num(b, hi));
}

}  // namespace

std::string log_root() {
  const char *r = getenv("CONDUIT_LOG_ROOT");
  return r && *r ? r : "./data/routes";
}

std::vector<SegmentDir> list_segments(const std::string &root) {
  std::vector<SegmentDir> out;
  std::error_code ec;
  for (auto &e : fs::directory_iterator(root, ec)) {
    SegmentDir s;
    if (e.is_directory(ec) && parse_segment_name(e.path().filename().string(), &s.route, &s.number)) {
      s.path = e.path().string();
      out.push_back(s);
    }
  }
  std::sort(out.begin(), out.end(), [](const SegmentDir &a, const SegmentDir &b) {
    return a.route != b.route ? a.route < b.route : a.number < b.number;
  });
  return out;
}

std::vector<std::string> resolve_logs(const std::string &spec_in, bool qlog, std::vector<std::string> *missing,
                                      const std::string &log_root_dir) {
  std::string spec = spec_in;
  while (spec.size() > 1 && spec.back() == '/') spec.pop_back();
  if (fs::is_regular_file(spec)) return {spec};
  if (fs::is_directory(spec)) {
    std::string log = segment_log(spec, qlog);
    std::string route;
    int n;
    if (!log.empty()) return {log};
    if (parse_segment_name(fs::path(spec).filename().string(), &route, &n))
      throw std::invalid_argument("log spec '" + spec_in + "': segment directory holds no " + (qlog ? "qlog" : "rlog") + "[.zst]");
  }
  // <root>/<route> or <root>/<route>/<range>
  fs::path p(spec);
  std::string range;
  int lo = 0, hi = INT32_MAX;
  std::string last = p.filename().string();
  bool numeric = !last.empty() && std::all_of(last.begin() + (last[0] == '-'), last.end(), ::isdigit) && last != "-";
  if (last.find(':') != std::string::npos || (numeric && !fs::exists(spec))) {
    if (!parse_range(last, &lo, &hi))
      throw std::invalid_argument("log spec '" + spec_in + "': bad segment range '" + last + "', expected a, a:b, a: or :b");
    p = p.parent_path();
  }
  // A bare route name is looked up under the log root, then here.
  const std::string route = p.filename().string();
  std::string root;
  std::vector<SegmentDir> segs;
  for (const std::string &r : p.parent_path().empty() ? std::vector<std::string>{log_root_dir.empty() ? log_root() : log_root_dir, "."}
                                                      : std::vector<std::string>{p.parent_path().string()}) {
    root = r;
    for (auto &s : list_segments(root))
      if (s.route == route) segs.push_back(s);
    if (!segs.empty()) break;
  }
  if (segs.empty())
    throw std::invalid_argument("log spec '" + spec_in + "': expected a log file, a segment directory or <root>/<route>[/a:b]; found no segments " +
                                root + "/" + route + "--<n>");
  // Non-negative bounds are segment numbers; negative ones count from the newest segment.
  int count = int(segs.size());
  auto number = [&](int v) { return v >= 0 ? v : segs[std::max(0, count + v)].number; };
  int a = number(lo), b = hi == INT32_MAX ? INT32_MAX : (hi < 0 && count + hi <= 0 ? a : number(hi));
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    if (segs[i].number < a || segs[i].number >= b) continue;
    std::string log = segment_log(segs[i].path, qlog);
    if (log.empty()) {
      if (missing) missing->push_back(segs[i].path + ": no " + (qlog ? "qlog" : "rlog"));
      continue;
    }
    out.push_back(log);
  }
  return out;
}

}  // namespace loggerd
