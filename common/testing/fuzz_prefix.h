#pragma once
// For libFuzzer targets that use the bus: a pipeline of their own,
// CONDUIT_PREFIX=fuzz_<target>_<pid>, whose shm directory is removed when the
// process exits. A run that ends in a crash or timeout never reaches exit
// handlers: tools/fuzz removes the directory then (it knows the name).
// Call once, before anything touches the bus.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/prefix.h"

namespace testutil {

inline void use_fuzz_prefix(const std::string &target) {
  setenv("CONDUIT_PREFIX", ("fuzz_" + target + "_" + std::to_string(getpid())).c_str(), 1);
  static const std::string dir = conduit::shm_dir();
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  });
}

}  // namespace testutil
