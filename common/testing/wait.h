#pragma once
// Polls `cond` until it holds or `seconds` pass; true when it held. Tests wait
// on a readiness condition with this instead of sleeping for a guessed time.
#include <chrono>
#include <functional>
#include <thread>

namespace testutil {

inline bool wait_for(const std::function<bool()> &cond, double seconds = 20) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace testutil
