#pragma once
// The one clock of conduit: CLOCK_MONOTONIC in nanoseconds. logMonoTime, frame
// timestamps and every latency measurement use it, across all processes.
#include <cstdint>
#include <ctime>

namespace conduit {

inline uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

inline double mono_s() { return mono_ns() * 1e-9; }

}  // namespace conduit
