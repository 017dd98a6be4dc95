// Lock files held by flock (see file_lock.h).
#include "loggerd/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "loggerd/route.h"

namespace fs = std::filesystem;

namespace loggerd {

int hold_lock(const std::string &lock_path) {
  int fd = ::open(lock_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create lock file " + lock_path + ": " + strerror(errno));
  if (flock(fd, LOCK_EX) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("cannot lock " + lock_path + ": " + strerror(e));
  }
  return fd;
}

bool lock_is_live(const std::string &lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;
  // A shared lock conflicts only with the writer's exclusive one, not with other checkers.
  bool live = flock(fd, LOCK_SH | LOCK_NB) != 0;
  ::close(fd);
  return live;
}

bool has_live_lock(const std::string &dir) {
  std::error_code ec;
  for (auto &e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".lock" && lock_is_live(e.path().string())) return true;
  return false;
}

std::vector<std::string> remove_stale_locks(const std::string &root) {
  std::vector<std::string> removed;
  for (const SegmentDir &s : list_segments(root)) {
    std::error_code ec;
    for (auto &e : fs::directory_iterator(s.path, ec)) {
      std::string p = e.path().string();
      if (e.path().extension() == ".lock" && !lock_is_live(p) && unlink(p.c_str()) == 0) removed.push_back(p);
    }
  }
  return removed;
}

}  // namespace loggerd
