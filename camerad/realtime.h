#pragma once
// Real-time scheduling for the pacing thread: SCHED_FIFO at `priority` (1..99)
// so a loaded machine delays the frame clock less. Needs CAP_SYS_NICE or an
// RLIMIT_RTPRIO; without them it fails and the caller keeps normal scheduling.
#include <string>

namespace camerad {

// Applies to the calling thread. Returns "" on success, else why it failed.
std::string set_realtime_priority(int priority);

}  // namespace camerad
