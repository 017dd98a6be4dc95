#include "common/command_line.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

TEST(CommandLine, RepeatedOptionKeepsEveryValueInOrder) {
  conduit::CommandLine cl("prog", "test");
  cl.repeated("from", "HOST", "a peer");
  cl.option("to", "HOST", "x", "one peer");
  const char *argv[] = {"prog", "--from", "a", "--to", "b", "--from=c=d,e", "--to", "f"};
  ASSERT_TRUE(cl.parse(8, const_cast<char **>(argv)));
  EXPECT_EQ(cl.values("from"), (std::vector<std::string>{"a", "c=d,e"}));
  EXPECT_EQ(cl.str("to"), "f");  // a plain option keeps its last value
  EXPECT_THROW(cl.values("to"), std::logic_error);
  EXPECT_NE(cl.help().find("(may be repeated)"), std::string::npos);
}

TEST(CommandLine, RepeatedOptionNotGivenIsEmpty) {
  conduit::CommandLine cl("prog", "test");
  cl.repeated("from", "HOST", "a peer");
  const char *argv[] = {"prog"};
  ASSERT_TRUE(cl.parse(1, const_cast<char **>(argv)));
  EXPECT_TRUE(cl.values("from").empty());
  EXPECT_FALSE(cl.on("from"));
}
