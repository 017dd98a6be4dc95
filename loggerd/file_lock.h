#pragma once
// Lock files: `<file>.lock` marks a log file that is still being written. The
// writer holds an flock on it for as long as the file is open, so the kernel
// drops the lock the moment the writer dies, however it dies: a lock file
// whose flock nobody holds is stale (its writer was SIGKILLed or crashed).
//
// Errors: hold_lock throws std::runtime_error naming the path; the checks
// treat an unreadable lock as live (never delete what may be in use).
// Threads: any; the functions share no state.
#include <string>
#include <vector>

namespace loggerd {

// Creates (truncates) `lock_path` and takes its flock. Returns the fd that
// holds it: close it after unlinking the file.
int hold_lock(const std::string &lock_path);

// True while a process holds the flock of `lock_path` (or it cannot be checked).
bool lock_is_live(const std::string &lock_path);

// True when directory `dir` holds a live *.lock.
bool has_live_lock(const std::string &dir);

// Removes the stale *.lock files of the segment directories under `root`;
// returns the paths removed.
std::vector<std::string> remove_stale_locks(const std::string &root);

}  // namespace loggerd
