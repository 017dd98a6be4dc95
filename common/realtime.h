#pragma once
// Scheduling for latency-critical threads. Both act on the calling thread, and
// threads it starts afterwards inherit the setting (the bridge sets them before
// starting any, so libzmq's I/O threads get them too).
// SCHED_FIFO needs CAP_SYS_NICE or an RLIMIT_RTPRIO; the caller decides whether
// a failure is fatal. Each returns "" on success, else the reason.
#include <string>

namespace conduit {

// SCHED_FIFO at `priority` (1..99).
std::string set_realtime_priority(int priority);
// Runs only on CPU `cpu`.
std::string pin_to_cpu(int cpu);

}  // namespace conduit
