#pragma once
// The initData event that opens every log: what ran, where, when, with which params.
#include <string>
#include <vector>

#include "cereal/messaging.h"

namespace loggerd {

struct InitInfo {
  std::string route;
  std::vector<std::string> command_line;
};

// Fills `b` (an initData event: version, git commit/branch, kernel, OS,
// hostname, wall time, params from the params dir, command line, route).
// Everything but the wall time is read once per process.
void build_init_data(cereal::MessageBuilder &b, const InitInfo &info);

}  // namespace loggerd
