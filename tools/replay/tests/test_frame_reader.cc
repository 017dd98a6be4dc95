#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>

#include "tools/replay/frame_reader.h"
#include "tools/replay/tests/fixture_env.h"

using namespace replay;
using namespace replay_test;

namespace {

struct Nv12 {
  int w, h;
  std::vector<uint8_t> data;
  Nv12(int w_, int h_) : w(w_), h(h_), data(size_t(w_) * h_ * 3 / 2) {}
  uint8_t *y() { return data.data(); }
  uint8_t *uv() { return data.data() + size_t(w) * h; }
};

}  // namespace

TEST(FrameReader, RandomAccessReturnsTheRightFrame) {
  const auto o = fixture_options();
  FrameReader fr(fixture().segment_dirs[1] + "/fcamera.hevc");
  ASSERT_EQ(fr.size(), size_t(o.frames_per_segment));
  EXPECT_EQ(fr.width(), o.width);
  EXPECT_EQ(fr.height(), o.height);
  EXPECT_TRUE(fr.is_keyframe(0));
  EXPECT_TRUE(fr.is_keyframe(20));
  EXPECT_FALSE(fr.is_keyframe(21));

  std::vector<size_t> order(fr.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  order.insert(order.end(), {5, 6, 7, 39, 0});  // sequential, last, back to the start
  Nv12 img(o.width, o.height);
  for (size_t i : order) {
    fr.get(i, img.y(), img.uv(), o.width);
    uint32_t frame_id = uint32_t(o.frames_per_segment + i);
    auto stamp = camerad::read_stamp(img.y(), o.width, o.width, o.height);
    ASSERT_TRUE(stamp.has_value()) << "packet " << i;
    EXPECT_EQ(stamp->frame_id, frame_id) << "packet " << i;
    EXPECT_GE(psnr_vs_synthetic(frame_id, img.y(), img.uv(), o.width, o.width, o.height), 35.0) << "packet " << i;
  }
}

TEST(FrameReader, SequentialReadDecodesEachPacketOnce) {
  FrameReader fr(fixture().segment_dirs[0] + "/fcamera.hevc");
  Nv12 img(fr.width(), fr.height());
  for (size_t i = 0; i < fr.size(); ++i) {
    fr.get(i, img.y(), img.uv(), fr.width());
    fr.prefetch(i + 1);
  }
  EXPECT_EQ(fr.packets_decoded(), fr.size());
}

TEST(FrameReader, SeekDecodesFromThePrecedingKeyframeOnly) {
  FrameReader fr(fixture().segment_dirs[0] + "/fcamera.hevc");
  Nv12 img(fr.width(), fr.height());
  fr.get(35, img.y(), img.uv(), fr.width());
  // Keyframe 20 .. 35, plus what frame threading keeps in flight.
  EXPECT_GE(fr.packets_decoded(), 16u);
  EXPECT_LE(fr.packets_decoded(), 16u + 4u);
}

TEST(FrameReader, BadFilesAreClearErrors) {
  EXPECT_THROW(FrameReader("/nonexistent/fcamera.hevc"), FrameError);
  std::string dir = fixture_copy("badvideo");
  {
    std::ofstream f(dir + "/fixture--0/fcamera.hevc", std::ios::binary | std::ios::trunc);
    f << "this is not a video";
  }
  EXPECT_THROW(FrameReader(dir + "/fixture--0/fcamera.hevc"), FrameError);
  FrameReader fr(fixture().segment_dirs[0] + "/fcamera.hevc");
  std::vector<uint8_t> img(size_t(fr.width()) * fr.height() * 3 / 2);
  EXPECT_THROW(fr.get(fr.size(), img.data(), img.data() + fr.width() * fr.height(), fr.width()), FrameError);
  fs::remove_all(dir);
}
