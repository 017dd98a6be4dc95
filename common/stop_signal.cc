#include "common/stop_signal.h"

#include <signal.h>

namespace conduit {

void on_stop_signal(void (*handler)(int)) {
  struct sigaction sa = {};
  sa.sa_handler = handler;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace conduit
