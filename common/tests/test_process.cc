// The C++ process template: the rate keeper's lag accounting (driven with
// explicit times), a clean stop on SIGTERM that also ends lockstep waits, params.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/process.h"
#include "common/ratekeeper.h"
#include "common/testing/prefix.h"
#include "msgq/msgq.h"

constexpr uint64_t kMs = 1000000;

TEST(RateKeeper, AccountsLagWithoutCatchingUp) {
  conduit::RateKeeper rk(100);  // 10 ms
  uint64_t t = 1000 * kMs;
  EXPECT_FALSE(rk.monitor(t));  // the first iteration: sleep one interval
  EXPECT_EQ(rk.remaining_ns(), 10 * kMs);
  EXPECT_FALSE(rk.monitor(t + 14 * kMs));  // due at t + 20: sleeps 6 ms
  EXPECT_EQ(rk.remaining_ns(), 6 * kMs);
  EXPECT_TRUE(rk.monitor(t + 55 * kMs));  // due at t + 30: 25 ms late
  EXPECT_EQ(rk.lag_ns(), 25 * kMs);
  EXPECT_EQ(rk.lagged_frames(), 1u);
  EXPECT_EQ(rk.remaining_ns(), 0u);
  // The schedule restarts after a late iteration: next due at t + 65, not t + 40.
  EXPECT_FALSE(rk.monitor(t + 60 * kMs));
  EXPECT_EQ(rk.remaining_ns(), 5 * kMs);
  EXPECT_EQ(rk.frame(), 4u);
  EXPECT_TRUE(rk.lagging());  // periods 14, 41, 5 ms: mean 20 > 11
  conduit::RateKeeper steady(100);
  for (int i = 0; i < 150; i++) steady.monitor(t + i * 10 * kMs);
  EXPECT_FALSE(steady.lagging());
  EXPECT_EQ(steady.lagged_frames(), 0u);
  EXPECT_THROW(conduit::RateKeeper(0), std::invalid_argument);
}

// proc.tick() kicks the watchdog: a file in the prefix's shm directory.
class Process : public testutil::PrefixTest {};

TEST_F(Process, StopsCleanlyOnSigtermAndEndsLockstepWaits) {
  conduit::Process proc("test_process", 0);
  EXPECT_THROW(conduit::Process("again"), std::logic_error);
  EXPECT_TRUE(proc.running());
  EXPECT_FALSE(proc.tick());  // no rate: never late
  raise(SIGTERM);
  EXPECT_FALSE(proc.running());
  EXPECT_EQ(proc.stop_signal(), SIGTERM);
  EXPECT_TRUE(msgq::lockstep_waits_stopped());
}

TEST_F(Process, ASecondProcessAfterAStopRuns) {
  {
    conduit::Process first("first", 0);
    raise(SIGTERM);
    EXPECT_FALSE(first.running());
  }
  conduit::Process second("second", 0);
  EXPECT_TRUE(second.running());
  EXPECT_EQ(second.stop_signal(), 0);
}

TEST_F(Process, ReadsParams) {
  char dir[] = "/tmp/conduit_params_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  setenv("CONDUIT_PARAMS_DIR", dir, 1);
  std::ofstream(std::string(dir) + "/Fps") << "30";
  EXPECT_EQ(conduit::read_param("Fps"), "30");
  EXPECT_EQ(conduit::read_param("ModelBackend"), std::nullopt);
  std::filesystem::remove_all(dir);
  unsetenv("CONDUIT_PARAMS_DIR");
}
