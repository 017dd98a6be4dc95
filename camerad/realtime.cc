#include "camerad/realtime.h"

#include <pthread.h>
#include <sched.h>

#include <cstring>

namespace camerad {

std::string set_realtime_priority(int priority) {
  if (priority < 1 || priority > 99) return "priority " + std::to_string(priority) + " is outside 1..99";
  sched_param p{};
  p.sched_priority = priority;
  int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
  return err ? std::string("SCHED_FIFO ") + std::to_string(priority) + ": " + strerror(err) : "";
}

}  // namespace camerad
