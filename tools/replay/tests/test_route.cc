#include "tools/replay/route.h"
#include "tools/replay/tests/fixture_env.h"

using namespace replay;
using namespace replay_test;

TEST(Route, OpensByNameByPathByRangeAndBySegment) {
  fixture();
  std::string root = fixture_options().dir;
  auto r = Route::open("fixture", root);
  ASSERT_EQ(r.segments().size(), 2u);
  EXPECT_EQ(r.name(), "fixture");
  EXPECT_EQ(r.segments()[1].number, 1);
  EXPECT_EQ(r.segments()[1].log, root + "/fixture--1/rlog.zst");
  EXPECT_TRUE(r.gaps().empty());

  EXPECT_EQ(Route::open(root + "/fixture/", "/elsewhere").segments().size(), 2u);
  EXPECT_EQ(Route::open(root + "/fixture", "/elsewhere", true).segments()[0].log, root + "/fixture--0/qlog.zst");

  auto one = Route::open(root + "/fixture--1", "/elsewhere");
  ASSERT_EQ(one.segments().size(), 1u);
  EXPECT_EQ(one.segments()[0].number, 1);
  EXPECT_EQ(one.name(), "fixture");

  auto ranged = Route::open(root + "/fixture/1:", "/elsewhere");
  ASSERT_EQ(ranged.segments().size(), 1u);
  EXPECT_EQ(ranged.segments()[0].number, 1);
  EXPECT_EQ(Route::open(root + "/fixture/0:1", "/elsewhere").segments().back().number, 0);
  auto named_range = Route::open("fixture/1", root);
  ASSERT_EQ(named_range.segments().size(), 1u);
  EXPECT_EQ(named_range.segments()[0].number, 1);
}

TEST(Route, GapsAndSegmentsWithoutLogsAreListed) {
  std::string root = fixture_copy("gaps");
  fs::rename(root + "/fixture--1", root + "/fixture--3");
  fs::create_directories(root + "/fixture--4");
  auto r = Route::open("fixture", root);
  ASSERT_EQ(r.segments().size(), 2u);
  EXPECT_EQ(r.gaps(), (std::vector<int>{1, 2}));
  ASSERT_EQ(r.missing().size(), 1u);
  EXPECT_NE(r.missing()[0].find("fixture--4"), std::string::npos);
  fs::remove_all(root);
}

TEST(Route, ErrorsSayWhatWasExpected) {
  fixture();
  try {
    Route::open("nosuchroute", fixture_options().dir);
    FAIL();
  } catch (const RouteError &e) {
    std::string what = e.what();
    EXPECT_NE(what.find("nosuchroute"), std::string::npos) << what;
  }
  EXPECT_THROW(Route::open("fixture", "/nonexistent/dir"), RouteError);
  EXPECT_THROW(Route::open(fixture_options().dir + "/fixture/5:9", ""), RouteError);
  EXPECT_THROW(Route::open(fixture_options().dir + "/fixture/a:b", ""), RouteError);
  EXPECT_THROW(Route::open("", ""), RouteError);
}
