// shm_dir(): a directory that was there before us is used only if it is ours and private.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "common/prefix.h"

namespace {

class ShmDir : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("CONDUIT_PREFIX", ("prefixtest_" + std::to_string(getpid())).c_str(), 1);
    dir_ = "/dev/shm/conduit_prefixtest_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // The error shm_dir() throws, or "" when it accepts the directory.
  std::string refusal() {
    try {
      conduit::shm_dir();
      return "";
    } catch (const std::runtime_error &e) {
      return e.what();
    }
  }
  std::string dir_;
};

TEST_F(ShmDir, CreatesAPrivateDirectory) {
  EXPECT_EQ(conduit::shm_dir(), dir_);
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(refusal(), "");  // and uses it again
}

TEST_F(ShmDir, RefusesADirectoryOthersCanEnter) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0777), 0);
  EXPECT_NE(refusal().find("can be entered by other users (uid " + std::to_string(geteuid()) + ", mode 0777)"),
            std::string::npos) << refusal();
  EXPECT_NE(refusal().find("CONDUIT_PREFIX"), std::string::npos);  // says what to do
}

TEST_F(ShmDir, RefusesAnotherUsersDirectoryAndASymlink) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  if (geteuid() == 0) {
    ASSERT_EQ(chown(dir_.c_str(), 65534, 65534), 0);
    EXPECT_NE(refusal().find("is owned by another user (uid 65534"), std::string::npos) << refusal();
  }
  std::filesystem::remove_all(dir_);
  std::string target = dir_ + "_target";
  ASSERT_EQ(mkdir(target.c_str(), 0700), 0);
  ASSERT_EQ(symlink(target.c_str(), dir_.c_str()), 0);
  EXPECT_NE(refusal().find("is not a directory"), std::string::npos) << refusal();
  std::filesystem::remove_all(target);
}

}  // namespace

// The rule common/prefix.py applies too (common/tests/test_prefix.py checks both
// against one table of names).
TEST(CheckName, AcceptsOnlyASafePathComponent) {
  for (const char *ok : {"a", "a.b", "A-9_z"}) EXPECT_NO_THROW(conduit::check_name(ok, "name")) << ok;
  EXPECT_NO_THROW(conduit::check_name(std::string(128, 'x'), "name"));
  for (const char *bad : {"", ".", "..", "a..b", "a/b", "a b"}) {
    EXPECT_THROW(conduit::check_name(bad, "name"), std::invalid_argument) << bad;
  }
  EXPECT_THROW(conduit::check_name(std::string(129, 'x'), "name"), std::invalid_argument);
}
