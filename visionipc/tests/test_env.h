#pragma once
// Gives each test its own CONDUIT_PREFIX and removes its shm dir afterwards.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace visionipc_test {

class PrefixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    prefix_ = "vipctest_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    setenv("CONDUIT_PREFIX", prefix_.c_str(), 1);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all("/dev/shm/conduit_" + prefix_, ec);
  }
  std::string prefix_;
};

}  // namespace visionipc_test
