#include "tools/replay/route.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>

namespace fs = std::filesystem;

namespace replay {

namespace {

const std::regex kSegmentDir(R"((.+)--(\d+))");

// Segment directories of route `name` in `dir`, by number.
std::map<int, std::string> find_segments(const std::string &dir, const std::string &name) {
  std::map<int, std::string> found;
  std::error_code ec;
  for (const auto &entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    std::string base = entry.path().filename().string();
    if (entry.is_directory() && std::regex_match(base, m, kSegmentDir) && m[1] == name && m[2].length() < 9) {
      found[std::stoi(m[2])] = entry.path().string();
    }
  }
  return found;
}

}  // namespace

std::string default_data_dir() {
  const char *root = std::getenv("CONDUIT_LOG_ROOT");
  if (root && *root) return root;
  return (fs::current_path() / "data" / "routes").string();
}

SegmentRange SegmentRange::parse(const std::string &text) {
  static const std::regex re(R"((\d{1,8})(:(\d{1,8})?)?)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    throw RouteError("segment range '" + text + "' is invalid: expected N, N:M or N: (segment numbers)");
  }
  SegmentRange r;
  r.first = std::stoi(m[1]);
  if (!m[2].matched) r.last = r.first;
  else if (m[3].matched) r.last = std::stoi(m[3]);
  if (r.last && *r.last < r.first) {
    throw RouteError("segment range '" + text + "' is empty: the last segment comes before the first");
  }
  return r;
}

Route Route::open(const std::string &spec, const std::string &data_dir, SegmentRange range) {
  if (spec.empty()) throw RouteError("no route given: expected a route name or path");
  std::string trimmed = spec;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  fs::path p(trimmed);
  std::string dir = trimmed.find('/') != std::string::npos ? p.parent_path().string() : data_dir;
  if (dir.empty()) dir = ".";
  std::string name = p.filename().string();

  auto found = find_segments(dir, name);
  std::smatch m;
  if (found.empty() && std::regex_match(name, m, kSegmentDir)) {
    // A single segment: <route>--<n>.
    std::string route = m[1];
    int n = std::stoi(m[2]);
    auto all = find_segments(dir, route);
    if (all.count(n)) {
      found = {{n, all[n]}};
      name = route;
    }
  }
  if (found.empty()) {
    std::error_code ec;
    std::string why = fs::is_directory(dir, ec) ? "no directory named " + name + "--<n>"
                                                 : "the directory does not exist";
    throw RouteError("route '" + spec + "' not found in " + dir + ": " + why);
  }

  Route r;
  r.name_ = name;
  r.dir_ = dir;
  int lo = found.begin()->first, hi = found.rbegin()->first;
  for (int n = lo; n <= hi; ++n) {
    if (n < range.first || (range.last && n > *range.last)) continue;
    auto it = found.find(n);
    if (it == found.end()) r.gaps_.push_back(n);
    else r.segments_.push_back({n, it->second});
  }
  if (r.segments_.empty()) {
    throw RouteError("route '" + name + "' has segments " + std::to_string(lo) + ".." + std::to_string(hi) +
                     ", none in the requested range");
  }
  return r;
}

}  // namespace replay
