#include "common/realtime.h"

#include <pthread.h>
#include <sched.h>

#include <cstring>

namespace conduit {

std::string set_realtime_priority(int priority) {
  if (priority < 1 || priority > 99) return "priority " + std::to_string(priority) + " is outside 1..99";
  sched_param p{};
  p.sched_priority = priority;
  const int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
  return err ? strerror(err) : "";
}

std::string pin_to_cpu(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return "no CPU " + std::to_string(cpu);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  return err ? strerror(err) : "";
}

}  // namespace conduit
