// Deleter: oldest unlocked segments first, stops once free space is back.
#include "loggerd/deleter.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include "loggerd/file_lock.h"
#include "loggerd/route.h"
#include "loggerd/tests/test_util.h"

using namespace loggerd;
using namespace loggerd_test;
namespace fs = std::filesystem;

namespace {

void make_segment(const std::string &root, const std::string &name, size_t bytes) {
  fs::create_directories(root + "/" + name);
  std::ofstream(root + "/" + name + "/rlog.zst") << std::string(bytes, 'x');
}

// A lock file as a live writer holds it; close the fd to play the writer's death.
int hold(const std::string &segment) { return hold_lock(segment + "/rlog.zst.lock"); }

}  // namespace

TEST(Deleter, SkipsLockedAndKeptSegmentsAndOtherDirs) {
  TempDir dir;
  for (int i = 0; i < 4; ++i) make_segment(dir.path, "r--" + std::to_string(i), 10);
  int lock = hold(dir.path + "/r--1");
  make_segment(dir.path, "other--0", 10);
  fs::create_directories(dir.path + "/notaseg");
  DeleterOptions o;
  o.min_free_percent = 100;  // never satisfied: everything deletable goes
  Deleter d(dir.path, o);
  auto gone = d.run(dir.path + "/r--3");
  std::vector<std::string> want = {dir.path + "/other--0", dir.path + "/r--0", dir.path + "/r--2"};
  EXPECT_EQ(gone, want);
  EXPECT_TRUE(exists(dir.path + "/r--1/rlog.zst"));
  EXPECT_TRUE(exists(dir.path + "/r--3/rlog.zst"));
  EXPECT_TRUE(exists(dir.path + "/notaseg"));
  EXPECT_EQ(d.deleted(), 3u);
  close(lock);
}

// A SIGKILLed loggerd leaves its *.lock files behind; the kernel has dropped their flock.
TEST(Deleter, AStaleLockProtectsNothing) {
  TempDir dir;
  make_segment(dir.path, "r--0", 10);
  make_segment(dir.path, "r--1", 10);
  close(hold(dir.path + "/r--0"));  // its writer died
  int live = hold(dir.path + "/r--1");
  EXPECT_FALSE(lock_is_live(dir.path + "/r--0/rlog.zst.lock"));
  EXPECT_TRUE(lock_is_live(dir.path + "/r--1/rlog.zst.lock"));
  DeleterOptions o;
  o.min_free_percent = 100;
  Deleter d(dir.path, o);
  std::vector<std::string> want = {dir.path + "/r--0"};
  EXPECT_EQ(d.run(), want);
  EXPECT_TRUE(exists(dir.path + "/r--1/rlog.zst"));
  close(live);
}

TEST(Deleter, RemoveStaleLocksKeepsLiveOnes) {
  TempDir dir;
  make_segment(dir.path, "r--0", 10);
  make_segment(dir.path, "r--1", 10);
  close(hold(dir.path + "/r--0"));
  std::ofstream(dir.path + "/r--0/qlog.zst.lock");  // never held at all
  int live = hold(dir.path + "/r--1");
  auto removed = remove_stale_locks(dir.path);
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> want = {dir.path + "/r--0/qlog.zst.lock", dir.path + "/r--0/rlog.zst.lock"};
  EXPECT_EQ(removed, want);
  EXPECT_TRUE(exists(dir.path + "/r--1/rlog.zst.lock"));
  close(live);
  EXPECT_EQ(remove_stale_locks(dir.path).size(), 1u);
}

TEST(Deleter, NothingToDoWhenSpaceSuffices) {
  TempDir dir;
  make_segment(dir.path, "r--0", 10);
  DeleterOptions o;
  o.min_free_percent = 0;
  Deleter d(dir.path, o);
  EXPECT_TRUE(d.run().empty());
  EXPECT_TRUE(exists(dir.path + "/r--0/rlog.zst"));
}

TEST(Deleter, DeletesOldestFirstUntilThresholdOnTmpfs) {
  TempDir dir;
  std::string root = dir.path + "/mnt";
  fs::create_directories(root);
  if (mount("tmpfs", root.c_str(), "tmpfs", 0, "size=2m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << strerror(errno) << ")";
  for (int i = 0; i < 4; ++i) make_segment(root, "2026-01-01--00-00-00--" + std::to_string(i), 400 << 10);
  DeleterOptions o;
  o.min_free_percent = 0;
  o.min_free_bytes = 1 << 20;
  Deleter d(root, o);
  auto gone = d.run();
  std::vector<std::string> want = {root + "/2026-01-01--00-00-00--0", root + "/2026-01-01--00-00-00--1"};
  EXPECT_EQ(gone, want);
  uint64_t free_bytes, total;
  ASSERT_TRUE(Deleter::space(root, &free_bytes, &total));
  EXPECT_GE(free_bytes, 1u << 20);
  EXPECT_EQ(list_segments(root).size(), 2u);
  umount2(root.c_str(), MNT_DETACH);
}

TEST(Route, ResolvesFilesSegmentsAndRanges) {
  TempDir dir;
  for (int i = 0; i < 5; ++i) make_segment(dir.path, "rt--" + std::to_string(i), 10);
  fs::remove(dir.path + "/rt--2/rlog.zst");
  std::vector<std::string> missing;
  auto all = resolve_logs(dir.path + "/rt", false, &missing);
  EXPECT_EQ(all.size(), 4u);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("rt--2"), std::string::npos);
  EXPECT_EQ(resolve_logs(dir.path + "/rt/1:4"), (std::vector<std::string>{dir.path + "/rt--1/rlog.zst", dir.path + "/rt--3/rlog.zst"}));
  EXPECT_EQ(resolve_logs(dir.path + "/rt/4"), (std::vector<std::string>{dir.path + "/rt--4/rlog.zst"}));
  EXPECT_EQ(resolve_logs(dir.path + "/rt/-1"), (std::vector<std::string>{dir.path + "/rt--4/rlog.zst"}));
  EXPECT_EQ(resolve_logs(dir.path + "/rt/3:").size(), 2u);
  EXPECT_EQ(resolve_logs(dir.path + "/rt--0"), (std::vector<std::string>{dir.path + "/rt--0/rlog.zst"}));
  EXPECT_EQ(resolve_logs(dir.path + "/rt--0/rlog.zst"), (std::vector<std::string>{dir.path + "/rt--0/rlog.zst"}));
  EXPECT_THROW(resolve_logs(dir.path + "/nope"), std::invalid_argument);
  EXPECT_THROW(resolve_logs(dir.path + "/rt/x:y"), std::invalid_argument);
  EXPECT_THROW(resolve_logs(dir.path + "/rt--2"), std::invalid_argument);
}
