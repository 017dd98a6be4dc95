#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "camerad/camera_stream.h"
#include "camerad/device_return.h"
#include "common/command_line.h"
#include "camerad/pacer.h"
#include "camerad/synthetic_scene.h"
#include "camerad/v4l2_camera.h"
#include "camerad/video_file_source.h"
#include "common/clock.h"
#include "common/yuv420_psnr.h"
#include "camerad/tests/clip_util.h"
#include "common/testing/video.h"

using camerad::CameraStream;
using conduit::PixelFormat;
using testutil::Image;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() : path(std::filesystem::temp_directory_path() / ("camerad_test_" + std::to_string(getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(SyntheticScene, PixelsAreAPureFunctionOfStreamAndFrame) {
  Image a(640, 384), b(640, 384, PixelFormat::kNv12, 128);
  camerad::render_synthetic(CameraStream::Road, 77, a.frame);
  camerad::render_synthetic(CameraStream::Road, 77, b.frame);
  EXPECT_EQ(conduit::psnr(a.frame, b.frame), 99.0) << "same (stream, frame) must give identical pixels at any stride";
  camerad::render_synthetic(CameraStream::Road, 78, b.frame);
  double next = conduit::psnr(a.frame, b.frame);
  EXPECT_LT(next, 40.0) << "the scene moves between frames";
  EXPECT_GT(next, 12.0) << "but only a little";
  camerad::render_synthetic(CameraStream::Wide, 77, b.frame);
  EXPECT_LT(conduit::psnr(a.frame, b.frame), 30.0) << "streams differ";
}

// I420 buffers get the same samples as NV12 ones: the scene is a function of
// (stream, frame id) only, not of the layout it is written in.
TEST(SyntheticScene, I420HoldsTheSamePixelsAsNv12) {
  Image nv12(640, 384), i420(640, 384, PixelFormat::kI420, 32);
  for (uint32_t id : {0u, 77u, 4000u}) {
    camerad::render_synthetic(CameraStream::Road, id, nv12.frame);
    camerad::render_synthetic(CameraStream::Road, id, i420.frame);
    ASSERT_EQ(conduit::psnr(nv12.frame, i420.frame), 99.0) << "frame " << id;
  }
  // The V plane really is separate: U and V of the sky differ (148 vs 116).
  size_t sky = size_t(20) * i420.frame.uv_stride + 250;  // right of the stamp, above the horizon
  EXPECT_EQ(i420.frame.u[sky], 148);
  EXPECT_EQ(i420.frame.v[sky], 116);
}

TEST(SyntheticScene, WritesOnlyInsideTheImage) {
  Image img(320, 192);
  std::fill(img.mem.begin(), img.mem.end(), 0xAB);
  camerad::render_synthetic(CameraStream::Driver, 5, img.frame);
  int stride = img.frame.stride;
  for (int r = 0; r < 192 + 96; r++) {
    for (int c = 320; c < stride; c++) ASSERT_EQ(img.mem[size_t(r) * stride + c], 0xAB) << "row " << r << " col " << c;
  }
  // Luma looks like a road scene: bright sky on top, darker road at the bottom.
  uint64_t top = 0, bottom = 0;
  for (int c = 0; c < 320; c++) top += img.frame.y[size_t(40) * stride + c], bottom += img.frame.y[size_t(180) * stride + c];
  EXPECT_GT(top / 320, 170u);
  EXPECT_LT(bottom / 320, 130u);
}

TEST(SyntheticScene, StampRoundTripsForEveryStream) {
  Image img(1928, 1208);
  for (int s = 0; s < camerad::kCameraStreamCount; s++) {
    for (uint32_t id : {0u, 1u, 1234567u, 0xFFFFFFFFu}) {
      camerad::render_synthetic(CameraStream(s), id, img.frame);
      auto st = camerad::read_stamp(img.frame.y, img.frame.stride, 1928, 1208);
      ASSERT_TRUE(st.has_value());
      EXPECT_EQ(st->frame_id, id);
      EXPECT_EQ(int(st->stream), s);
    }
  }
  std::vector<uint8_t> gray(1928 * 64, 128);
  EXPECT_FALSE(camerad::read_stamp(gray.data(), 1928, 1928, 64).has_value());
}

TEST(SyntheticScene, BadBufferIsAClearError) {
  Image img(640, 384);
  conduit::Yuv420Frame odd = img.frame;
  odd.width = 639;
  try {
    camerad::render_synthetic(CameraStream::Road, 0, odd);
    FAIL();
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("expected even width and height"), std::string::npos) << e.what();
  }
  conduit::Yuv420Frame narrow = img.frame;
  narrow.stride = 100;
  EXPECT_THROW(camerad::render_synthetic(CameraStream::Road, 0, narrow), std::invalid_argument);
  conduit::Yuv420Frame small = img.frame;
  small.width = 64;
  EXPECT_THROW(camerad::render_synthetic(CameraStream::Road, 0, small), std::invalid_argument);
}

TEST(Pacer, DeadlinesComeFromTheTickIndexSoThereIsNoDrift) {
  camerad::Pacer p(20, 1'000'000'000);
  EXPECT_EQ(p.deadline(0), 1'000'000'000u);
  EXPECT_EQ(p.deadline(1), 1'050'000'000u);
  EXPECT_EQ(p.deadline(72000), 1'000'000'000u + 3600'000'000'000u) << "one hour of 20 fps, exactly";
  camerad::Pacer p30(30, 1);
  EXPECT_EQ(p30.deadline(3), 1u + 100'000'000u);
  EXPECT_EQ(p30.deadline(30 * 600), 1u + 600'000'000'000u) << "thirds of a second do not accumulate";
  EXPECT_THROW(camerad::Pacer(0), std::invalid_argument);
}

TEST(Pacer, WaitsUntilTheDeadlineAndSkipsTicksItMissed) {
  camerad::Pacer p(100);
  camerad::Tick t;
  // Whatever the load, every tick is either delivered once or skipped and counted.
  ASSERT_TRUE(p.wait(t));
  EXPECT_EQ(t.index, p.skipped());
  EXPECT_GE(t.woke, t.deadline) << "never wakes early";
  uint64_t prev = t.index, skipped = p.skipped();
  ASSERT_TRUE(p.wait(t));
  EXPECT_EQ(t.index, prev + 1 + (p.skipped() - skipped));
  EXPECT_GE(t.woke, t.deadline);
  prev = t.index;
  skipped = p.skipped();
  usleep(55'000);  // miss at least 4 ticks of 10 ms
  ASSERT_TRUE(p.wait(t));
  EXPECT_GE(p.skipped() - skipped, 4u) << "missed ticks are skipped, not delivered in a burst";
  EXPECT_EQ(t.index, prev + 1 + (p.skipped() - skipped));
  p.stop();
  EXPECT_FALSE(p.wait(t));
}

TEST(VideoFileSource, ReproducesAClipInRealTimeAndLoops) {
  TempDir dir;
  std::string path = (dir.path / "clip.ts").string();
  const int w = 640, h = 384, n = 12;
  testutil::write_clip(path, w, h, n, 20, true);
  camerad::VideoFileSource src(path, w, h, /*loop=*/true);
  Image out(w, h), ref(w, h);
  const uint64_t period = 50'000'000;
  for (int k = 0; k < 2 * n + 3; k++) {
    ASSERT_TRUE(src.frame(k * period + 1000, out.frame));
    auto st = camerad::read_stamp(out.frame.y, out.frame.stride, w, h);
    ASSERT_TRUE(st.has_value()) << "tick " << k;
    EXPECT_EQ(st->frame_id, uint32_t(k % n)) << "tick " << k;
    camerad::render_synthetic(CameraStream::Road, st->frame_id, ref.frame);
    EXPECT_GE(conduit::psnr(out.frame, ref.frame), 35.0) << "tick " << k;
  }
  EXPECT_EQ(src.loops(), 2u);
  EXPECT_EQ(src.source_width(), w);

  // A 10 fps camera over the 20 fps clip shows every other frame (timestamps rule).
  camerad::VideoFileSource slow(path, w, h, true);
  for (int k = 0; k < 5; k++) {
    ASSERT_TRUE(slow.frame(k * 2 * period + 1000, out.frame));
    EXPECT_EQ(camerad::read_stamp(out.frame.y, out.frame.stride, w, h)->frame_id, uint32_t(2 * k));
  }
}

// The file source converts into whichever layout the buffer has.
TEST(VideoFileSource, WritesI420Buffers) {
  TempDir dir;
  std::string path = (dir.path / "clip.ts").string();
  const int w = 640, h = 384;
  testutil::write_clip(path, w, h, 4, 20, true);
  camerad::VideoFileSource src(path, w, h, /*loop=*/true);
  Image out(w, h, PixelFormat::kI420), ref(w, h);
  for (int k = 0; k < 4; k++) {
    ASSERT_TRUE(src.frame(k * 50'000'000ull + 1000, out.frame));
    auto st = camerad::read_stamp(out.frame.y, out.frame.stride, w, h);
    ASSERT_TRUE(st.has_value()) << "tick " << k;
    camerad::render_synthetic(CameraStream::Road, st->frame_id, ref.frame);
    EXPECT_GE(conduit::psnr(out.frame, ref.frame), 35.0) << "tick " << k;
  }
}

TEST(VideoFileSource, ScalesAndStopsAtTheEndWithoutLoop) {
  TempDir dir;
  std::string path = (dir.path / "clip.h264").string();  // raw stream: no timestamps
  testutil::write_clip(path, 640, 384, 6, 20, false);
  camerad::VideoFileSource src(path, 320, 192, /*loop=*/false, 20);
  Image out(320, 192);
  int shown = 0;
  for (int k = 0; k < 20; k++) {
    if (!src.frame(uint64_t(k) * 50'000'000 + 1000, out.frame)) break;
    auto st = camerad::read_stamp(out.frame.y, out.frame.stride, 320, 192);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->frame_id, uint32_t(k));
    shown++;
  }
  EXPECT_EQ(shown, 6);
  EXPECT_EQ(src.source_width(), 640);
}

TEST(VideoFileSource, BadFilesAreClearErrors) {
  TempDir dir;
  try {
    camerad::VideoFileSource src((dir.path / "missing.mp4").string(), 640, 384, true);
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("missing.mp4"), std::string::npos) << e.what();
  }
  std::string text = (dir.path / "notes.txt").string();
  std::ofstream(text) << "not a video\n";
  EXPECT_THROW(camerad::VideoFileSource(text, 640, 384, true), std::runtime_error);
}

TEST(V4l2Camera, WithoutADeviceTheErrorNamesWhatWasLookedFor) {
  TempDir dir;  // an empty /dev
  try {
    camerad::V4l2Camera cam("", 1928, 1208, 20, PixelFormat::kNv12, dir.path.string());
    FAIL();
  } catch (const camerad::V4l2Error &e) {
    std::string m = e.what();
    EXPECT_NE(m.find(dir.path.string() + "/video0 .. " + dir.path.string() + "/video63"), std::string::npos) << m;
    EXPECT_NE(m.find("found none"), std::string::npos) << m;
  }
  try {
    camerad::V4l2Camera cam((dir.path / "video7").string(), 1928, 1208, 20, PixelFormat::kI420);
    FAIL();
  } catch (const camerad::V4l2Error &e) {
    EXPECT_NE(std::string(e.what()).find("video7: cannot open"), std::string::npos) << e.what();
  }
  // A file that is not a V4L2 device.
  std::ofstream((dir.path / "video0").string()) << "x";
  EXPECT_THROW(camerad::V4l2Camera((dir.path / "video0").string(), 1928, 1208, 20, PixelFormat::kNv12), camerad::V4l2Error);
}

// The dmabuf path's return order, against a fake device: `device` is its queue,
// `held` the buffers clients hold.
struct FakeDevice {
  std::vector<size_t> device;
  std::set<size_t> held;
  int refill(camerad::DeviceReturn &r, uint64_t now_ns) {
    return r.refill(now_ns, [&] { return device.size(); }, [&](size_t i) {
      if (held.count(i)) return false;
      device.push_back(i);
      return true;
    });
  }
};
constexpr uint64_t kMs = 1000000;

// The device keeps keep_queued buffers; the other sent frames stay readable,
// oldest going back first; a held buffer stays out.
TEST(DeviceReturn, SentFramesStayReadableUntilTheDeviceRunsShort) {
  camerad::DeviceReturn r(8, 4, 33 * kMs);
  FakeDevice f;
  auto &device = f.device;
  auto &held = f.held;
  EXPECT_EQ(f.refill(r, 0), -1);
  EXPECT_EQ(device, (std::vector<size_t>{0, 1, 2, 3}));
  // Frames come out of the device in order; each sent one waits while the device has enough.
  uint64_t t = 1000 * kMs;
  for (int k = 0; k < 4; k++, t += 33 * kMs) {
    size_t idx = device.front();
    device.erase(device.begin());
    r.sent(idx, t);
    f.refill(r, t);
  }
  // Device took 4, 5, 6, 7 (never-sent buffers first), the sent 0..3 stay out for clients.
  EXPECT_EQ(device, (std::vector<size_t>{4, 5, 6, 7}));
  // Next frame (4) leaves the device: the oldest sent (0) goes back, the others stay readable.
  device.erase(device.begin());
  r.sent(4, t);
  EXPECT_EQ(f.refill(r, t), -1);
  EXPECT_EQ(device, (std::vector<size_t>{5, 6, 7, 0}));
  // A held buffer (1) is skipped; the next oldest (2) goes instead, and 1 waits for its release.
  held = {1};
  device.erase(device.begin());
  r.sent(5, t + 33 * kMs);
  EXPECT_EQ(f.refill(r, t + 33 * kMs), -1);
  EXPECT_EQ(device, (std::vector<size_t>{6, 7, 0, 2}));
}

TEST(DeviceReturn, TheFrameJustSentWaitsItsGraceEvenWhenTheDeviceIsDry) {
  camerad::DeviceReturn r(2, 1, 33 * kMs);
  FakeDevice f;
  auto &device = f.device;
  auto &held = f.held;
  f.refill(r, 0);
  EXPECT_EQ(device, (std::vector<size_t>{0}));
  device.clear();
  r.sent(0, 1000 * kMs);
  held = {0};  // a client holds frame 0: buffer 1 goes to the device
  EXPECT_EQ(f.refill(r, 1000 * kMs), -1);
  EXPECT_EQ(device, (std::vector<size_t>{1}));
  device.clear();
  r.sent(1, 1010 * kMs);
  // Only the frame just sent is free: it stays out for 33 ms, then goes back.
  // (The held one is due first: the wait is until then, then until 1 is due.)
  EXPECT_EQ(f.refill(r, 1010 * kMs), 23);
  EXPECT_EQ(f.refill(r, 1033 * kMs), 10);
  EXPECT_TRUE(device.empty());
  EXPECT_EQ(f.refill(r, 1043 * kMs), -1);
  EXPECT_EQ(device, (std::vector<size_t>{1}));
  // Every other buffer held and the device busy: nothing left to return.
  device.clear();
  held = {0, 1};
  r.sent(1, 1100 * kMs);
  EXPECT_EQ(f.refill(r, 2000 * kMs), 0);  // due but held: look again soon
  held.clear();
  EXPECT_EQ(f.refill(r, 2000 * kMs), -1);
  EXPECT_EQ(device, (std::vector<size_t>{0}));
}

TEST(CommandLine, ParsesAndRejectsWithClearMessages) {
  conduit::CommandLine cl("prog", "test");
  cl.option("fps", "N", "20", "rate");
  cl.option("size", "WxH", "1928x1208", "size");
  cl.flag("fast", "go fast");
  const char *argv[] = {"prog", "--fps=30", "--size", "640x384", "--fast"};
  ASSERT_TRUE(cl.parse(5, const_cast<char **>(argv)));
  EXPECT_EQ(cl.integer("fps", 1, 100), 30);
  int w, h;
  cl.size("size", w, h);
  EXPECT_EQ(w, 640);
  EXPECT_TRUE(cl.on("fast"));
  EXPECT_NE(cl.help().find("--size WxH"), std::string::npos);
  const char *bad[] = {"prog", "--nope"};
  EXPECT_THROW(cl.parse(2, const_cast<char **>(bad)), std::invalid_argument);
  const char *odd[] = {"prog", "--size", "641x384"};
  cl.parse(3, const_cast<char **>(odd));
  EXPECT_THROW(cl.size("size", w, h), std::invalid_argument);
  const char *help[] = {"prog", "--help"};
  EXPECT_FALSE(cl.parse(2, const_cast<char **>(help)));
}
