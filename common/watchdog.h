#pragma once
// Heartbeats for the manager's watchdog. A process calls watchdog_kick() from
// its main loop; the manager restarts a process whose last kick is older than
// its configured limit. The kick is one store into a shared-memory file
// (<shm_dir>/watchdog/<pid>, 8 bytes of CLOCK_MONOTONIC ns): no syscall after
// the first call. Thread-safe. Errors are reported once on stderr and ignored:
// a missing heartbeat must never stop the process itself.
#include <sys/types.h>

#include <cstdint>

namespace conduit {

void watchdog_kick();

}  // namespace conduit
