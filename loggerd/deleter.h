#pragma once
// Deleter: keeps free space on the log root's filesystem above a threshold by
// deleting whole segments, oldest first (route name, then segment number).
// A segment holding a live *.lock (a file still being written, file_lock.h) is
// never deleted, nor is the segment named `keep`. A stale lock, left by a
// writer that died, protects nothing.
//
// Threshold: free >= max(min_free_percent of the filesystem, min_free_bytes).
// Errors: a segment that cannot be removed is logged and skipped.
#include <cstdint>
#include <string>
#include <vector>

namespace loggerd {

struct DeleterOptions {
  double min_free_percent = 10.0;
  uint64_t min_free_bytes = 0;
};

class Deleter {
 public:
  Deleter(std::string root, DeleterOptions opts) : root_(std::move(root)), opts_(opts) {}
  // Deletes segments until the threshold holds or nothing deletable is left.
  // Returns the deleted segment paths.
  std::vector<std::string> run(const std::string &keep = "");
  uint64_t deleted() const { return deleted_; }

  // Free bytes and total bytes of the filesystem holding the root (statvfs).
  static bool space(const std::string &path, uint64_t *free_bytes, uint64_t *total_bytes);

 private:
  bool enough(uint64_t free_bytes, uint64_t total) const;

  std::string root_;
  DeleterOptions opts_;
  uint64_t deleted_ = 0;
};

}  // namespace loggerd
