#include "tools/replay/route.h"
#include "tools/replay/tests/fixture_env.h"

using namespace replay;
using namespace replay_test;

TEST(Route, OpensByNameByPathAndBySegment) {
  std::string root = fixture_options().dir;
  auto r = Route::open("fixture", root);
  ASSERT_EQ(r.segments().size(), 2u);
  EXPECT_EQ(r.segments()[1].number, 1);
  EXPECT_EQ(r.segments()[1].log(), root + "/fixture--1/rlog.zst");
  EXPECT_TRUE(r.gaps().empty());

  auto by_path = Route::open(root + "/fixture/", "/elsewhere");
  EXPECT_EQ(by_path.segments().size(), 2u);

  auto one = Route::open(root + "/fixture--1", "/elsewhere");
  ASSERT_EQ(one.segments().size(), 1u);
  EXPECT_EQ(one.segments()[0].number, 1);
  EXPECT_EQ(one.name(), "fixture");

  auto ranged = Route::open("fixture", root, SegmentRange::parse("1:"));
  ASSERT_EQ(ranged.segments().size(), 1u);
  EXPECT_EQ(ranged.segments()[0].number, 1);
}

TEST(Route, GapsAreListed) {
  std::string root = fixture_copy("gaps");
  fs::rename(root + "/fixture--1", root + "/fixture--3");
  auto r = Route::open("fixture", root);
  ASSERT_EQ(r.segments().size(), 2u);
  EXPECT_EQ(r.gaps(), (std::vector<int>{1, 2}));
  fs::remove_all(root);
}

TEST(Route, ErrorsSayWhatWasExpected) {
  try {
    Route::open("nosuchroute", fixture_options().dir);
    FAIL();
  } catch (const RouteError &e) {
    std::string what = e.what();
    EXPECT_NE(what.find("nosuchroute"), std::string::npos);
    EXPECT_NE(what.find(fixture_options().dir), std::string::npos);
  }
  EXPECT_THROW(Route::open("fixture", "/nonexistent/dir"), RouteError);
  EXPECT_THROW(Route::open("fixture", fixture_options().dir, SegmentRange::parse("5:9")), RouteError);
  EXPECT_THROW(SegmentRange::parse("a:b"), RouteError);
  EXPECT_THROW(SegmentRange::parse("3:1"), RouteError);
  auto r = SegmentRange::parse("2:4");
  EXPECT_EQ(r.first, 2);
  EXPECT_EQ(*r.last, 4);
  EXPECT_FALSE(SegmentRange::parse("2:").last.has_value());
  EXPECT_EQ(*SegmentRange::parse("7").last, 7);
}
