#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>

#include "tools/replay/frame_reader.h"
#include "tools/replay/tests/fixture_env.h"

using namespace replay;
using namespace replay_test;

namespace {

// A compact image to decode into, NV12 unless asked otherwise.
struct Image {
  std::vector<uint8_t> data;
  conduit::Yuv420Frame frame;
  Image(int w, int h, conduit::PixelFormat f = conduit::PixelFormat::kNv12) {
    conduit::Yuv420Layout l = conduit::yuv420_layout(f, w, h);
    data.resize(l.size());
    frame = conduit::Yuv420Frame::at(data.data(), l);
  }
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
  Image img(o.width, o.height), planar(o.width, o.height, conduit::PixelFormat::kI420);
  for (size_t i : order) {
    fr.get(i, img.frame);
    uint32_t frame_id = uint32_t(o.frames_per_segment + i);
    auto stamp = camerad::read_stamp(img.frame.y, o.width, o.width, o.height);
    ASSERT_TRUE(stamp.has_value()) << "packet " << i;
    EXPECT_EQ(stamp->frame_id, frame_id) << "packet " << i;
    EXPECT_GE(psnr_vs_synthetic(frame_id, img.frame), 35.0) << "packet " << i;
  }
  fr.get(3, planar.frame);  // the same picture into an I420 destination
  fr.get(3, img.frame);
  EXPECT_EQ(conduit::psnr(planar.frame, img.frame), 99);
}

TEST(FrameReader, SequentialReadDecodesEachPacketOnce) {
  FrameReader fr(fixture().segment_dirs[0] + "/fcamera.hevc");
  Image img(fr.width(), fr.height());
  for (size_t i = 0; i < fr.size(); ++i) {
    fr.get(i, img.frame);
    fr.prefetch(i + 1);
  }
  EXPECT_EQ(fr.packets_decoded(), fr.size());
}

TEST(FrameReader, SeekDecodesFromThePrecedingKeyframeOnly) {
  FrameReader fr(fixture().segment_dirs[0] + "/fcamera.hevc");
  Image img(fr.width(), fr.height());
  fr.get(35, img.frame);
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
  Image img(fr.width(), fr.height());
  EXPECT_THROW(fr.get(fr.size(), img.frame), FrameError);
  fs::remove_all(dir);
}
