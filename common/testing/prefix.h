#pragma once
// A CONDUIT_PREFIX of its own for a test (the C++ side of conftest.py's
// fixture). ScopedPrefix sets a fresh one, "<tag>_<pid>_<n>", and when it goes
// removes that prefix's shared-memory directory and puts the previous prefix
// back; PrefixTest gives every test of a fixture one. Header only; setenv, so
// create and destroy it on the test's thread before others start.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "common/prefix.h"

namespace testutil {

class ScopedPrefix {
 public:
  explicit ScopedPrefix(const std::string &tag) {
    static int counter = 0;
    if (const char *old = getenv("CONDUIT_PREFIX")) old_ = old;
    name_ = tag + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    setenv("CONDUIT_PREFIX", name_.c_str(), 1);
    dir_ = conduit::shm_dir();
  }
  ~ScopedPrefix() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (old_) setenv("CONDUIT_PREFIX", old_->c_str(), 1);
    else unsetenv("CONDUIT_PREFIX");
  }
  ScopedPrefix(const ScopedPrefix &) = delete;
  ScopedPrefix &operator=(const ScopedPrefix &) = delete;

  const std::string &name() const { return name_; }
  const std::string &dir() const { return dir_; }  // its shm directory

 private:
  std::optional<std::string> old_;
  std::string name_, dir_;
};

// A fixture whose every test runs under its own prefix (the test's name as tag).
class PrefixTest : public ::testing::Test {
 protected:
  ScopedPrefix prefix_{::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name()};
};

}  // namespace testutil
