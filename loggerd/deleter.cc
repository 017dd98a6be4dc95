// Deleter: oldest unlocked segments go first (see deleter.h).
#include "loggerd/deleter.h"

#include <sys/statvfs.h>

#include <cstdio>
#include <filesystem>

#include "loggerd/file_lock.h"
#include "loggerd/route.h"

namespace fs = std::filesystem;

namespace loggerd {

bool Deleter::space(const std::string &path, uint64_t *free_bytes, uint64_t *total_bytes) {
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0) return false;
  *free_bytes = uint64_t(st.f_bavail) * st.f_frsize;
  *total_bytes = uint64_t(st.f_blocks) * st.f_frsize;
  return true;
}

bool Deleter::enough(uint64_t free_bytes, uint64_t total) const {
  double want = std::max(double(opts_.min_free_bytes), total * opts_.min_free_percent / 100.0);
  return double(free_bytes) >= want;
}

std::vector<std::string> Deleter::run(const std::string &keep) {
  std::vector<std::string> gone;
  uint64_t free_bytes, total;
  if (!space(root_, &free_bytes, &total) || enough(free_bytes, total)) return gone;
  std::error_code ec;
  fs::path keep_path = keep.empty() ? fs::path() : fs::weakly_canonical(keep, ec);
  for (const SegmentDir &s : list_segments(root_)) {
    if (!keep.empty() && fs::weakly_canonical(s.path, ec) == keep_path) continue;
    if (has_live_lock(s.path)) continue;
    fs::remove_all(s.path, ec);
    if (ec) {
      fprintf(stderr, "loggerd: deleter cannot remove %s: %s\n", s.path.c_str(), ec.message().c_str());
      continue;
    }
    fprintf(stderr, "loggerd: deleter removed %s to keep free space\n", s.path.c_str());
    gone.push_back(s.path);
    deleted_++;
    if (!space(root_, &free_bytes, &total) || enough(free_bytes, total)) break;
  }
  return gone;
}

}  // namespace loggerd
