#include "camerad/pacer.h"

#include <cerrno>
#include <ctime>
#include <stdexcept>
#include <string>

#include "common/clock.h"

namespace camerad {

Pacer::Pacer(int fps, uint64_t start_ns) : fps_(fps), start_(start_ns ? start_ns : conduit::mono_ns()) {
  if (fps <= 0 || fps > 1000) throw std::invalid_argument("pacer: fps " + std::to_string(fps) + ", expected 1..1000");
}

uint64_t Pacer::deadline(uint64_t index) const {
  return start_ + uint64_t((unsigned __int128)index * 1000000000u / unsigned(fps_));
}

bool Pacer::wait(Tick &tick) {
  uint64_t now = conduit::mono_ns();
  // Skip ticks whose successor is already due: the caller was too slow for them.
  while (deadline(next_ + 1) <= now) {
    next_++;
    skipped_++;
  }
  uint64_t due = deadline(next_);
  timespec ts{time_t(due / 1000000000u), long(due % 1000000000u)};
  while (!stopped_) {
    int err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    if (err == 0) break;
    if (err != EINTR) throw std::runtime_error("pacer: clock_nanosleep failed: error " + std::to_string(err));
  }
  if (stopped_) return false;
  tick = Tick{next_, due, conduit::mono_ns()};
  next_++;
  return true;
}

}  // namespace camerad
