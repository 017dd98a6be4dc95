#pragma once
// A process identity that survives pid reuse: (pid, start time in clock ticks
// since boot, from /proc/<pid>/stat). Shared-memory slots store it so a slot
// left by a dead process can be told apart from one held by a live process
// that happens to reuse the pid.
#include <sys/types.h>

#include <cstdint>

namespace conduit {

struct ProcessIdentity {
  int32_t pid = 0;
  uint64_t start_ticks = 0;
};

ProcessIdentity self_identity();        // cached after the first call (fork-safe)
uint64_t process_start_ticks(pid_t pid);  // 0 when the process is gone or a zombie
bool is_alive(const ProcessIdentity &id);   // false for pid 0

}  // namespace conduit
