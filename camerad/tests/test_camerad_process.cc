// camerad as a process: VisionIPC frames are exactly the synthetic scene,
// FrameData follows the pacing deadlines, SIGTERM stops it, bad sources fail clearly.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>

#include "camerad/synthetic_scene.h"
#include "camerad/v4l2_camera.h"
#include "common/prefix.h"
#include "common/yuv420_psnr.h"
#include "camerad/tests/clip_util.h"
#include "cereal/tests/collect.h"
#include "common/testing/child.h"
#include "common/testing/prefix.h"
#include "common/testing/video.h"
#include "visionipc/visionipc_client.h"

namespace {
// Connects `client` to a 320x192 camerad and checks 5 frames of `stream`, pixel
// for pixel, against the synthetic scene in the layout they come in, which must
// be `format`. Returns how many frames were checked.
int check_scene_frames(VisionIpcClient &client, camerad::CameraStream stream, conduit::PixelFormat format) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!client.connect(false) && std::chrono::steady_clock::now() < until) usleep(50'000);
  testutil::Image ref(320, 192);
  int checked = 0;
  while (client.connected && checked < 5 && std::chrono::steady_clock::now() < until) {
    VisionIpcBufExtra extra;
    VisionBuf *buf = client.recv(&extra, 100);
    if (!buf) continue;
    EXPECT_EQ(buf->width(), 320u);
    EXPECT_EQ(buf->layout.format(), format);
    camerad::render_synthetic(stream, extra.frame_id, ref.frame);
    EXPECT_EQ(conduit::psnr(buf->frame(), ref.frame), 99.0) << "frame " << extra.frame_id << " differs from the scene";
    EXPECT_GE(extra.timestamp_eof, extra.timestamp_sof);
    checked++;
  }
  return checked;
}

}  // namespace

TEST(CameradProcess, ServesTheSyntheticSceneWithSteadyTimestamps) {
  testutil::ScopedPrefix scope("camproc");
  auto state = msgq::SubSocket::create("driverCameraState");
  testutil::Child camerad({"build/bin/camerad", "--cameras", "road,driver", "--size", "320x192"});

  VisionIpcClient client("camerad", VISION_STREAM_DRIVER, false);
  EXPECT_EQ(check_scene_frames(client, camerad::CameraStream::Driver, conduit::PixelFormat::kNv12), 5);  // the default

  struct Fd {
    uint32_t id;
    uint64_t sof;
  };
  std::vector<Fd> fds;
  std::string sensor, source;
  testutil::collect(*state, 30, [&](cereal::Event::Reader ev) {
    ASSERT_EQ(ev.which(), cereal::Event::DRIVER_CAMERA_STATE);
    auto f = ev.getDriverCameraState();
    fds.push_back({f.getFrameId(), f.getTimestampSof()});
    sensor = f.getSensor();
    source = f.getSource();
    EXPECT_EQ(f.getWidth(), 320u);
    EXPECT_GE(f.getProcessingTime(), 0.0f);
  }, [&] { return fds.size() >= 10; });
  ASSERT_GE(fds.size(), 10u);
  EXPECT_EQ(source, "synthetic");
  EXPECT_EQ(sensor, "synthetic");
  for (size_t i = 1; i < fds.size(); i++) {
    ASSERT_GT(fds[i].id, fds[i - 1].id);
    // Start-of-frame times are the pacing deadlines: exactly 50 ms per frame id, no drift.
    EXPECT_EQ(fds[i].sof - fds[i - 1].sof, uint64_t(fds[i].id - fds[i - 1].id) * 50'000'000u);
  }
  camerad.signal(SIGTERM);
  EXPECT_EQ(camerad.wait(20), 0);
}

// --pixel-format yuv420p: I420 buffers (U plane, then V plane) holding exactly
// the synthetic scene, as a consumer that reads the layout from VisionIPC sees them.
TEST(CameradProcess, ServesI420Buffers) {
  testutil::ScopedPrefix scope("cami420");
  testutil::Child camerad({"build/bin/camerad", "--cameras", "road", "--size", "320x192", "--pixel-format", "yuv420p"});
  VisionIpcClient client("camerad", VISION_STREAM_ROAD, false);
  EXPECT_EQ(check_scene_frames(client, camerad::CameraStream::Road, conduit::PixelFormat::kI420), 5);
  ASSERT_TRUE(client.connected);
  const conduit::Yuv420Layout &l = client.buffers[0].layout;
  EXPECT_EQ(l.uv_stride, l.stride / 2);
  EXPECT_EQ(l.v_offset, l.u_offset + size_t(l.uv_stride) * 96);  // 192 rows: no row padding
  camerad.signal(SIGTERM);
  EXPECT_EQ(camerad.wait(20), 0);
}

// --source file: every camera shows the clip, in real time, looping.
TEST(CameradProcess, FileSourceReplaysAClipOnEveryCamera) {
  testutil::ScopedPrefix scope("camfile");
  std::filesystem::path clip = std::filesystem::temp_directory_path() / ("camerad_clip_" + std::to_string(getpid()) + ".ts");
  const int n = 8;
  testutil::write_clip(clip.string(), 320, 192, n, 20, true);
  testutil::Child camerad({"build/bin/camerad", "--source", "file:" + clip.string(), "--cameras", "road,wide", "--size",
                           "320x192"});
  VisionIpcClient road("camerad", VISION_STREAM_ROAD, false), wide("camerad", VISION_STREAM_WIDE_ROAD, false);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!(road.connect(false) && wide.connect(false)) && std::chrono::steady_clock::now() < until) usleep(50'000);
  ASSERT_TRUE(road.connected && wide.connected);
  std::map<uint32_t, uint32_t> road_shown;  // camera frame id -> clip frame shown
  int wide_checked = 0;
  while ((road_shown.size() < size_t(2 * n) || wide_checked < 5) && std::chrono::steady_clock::now() < until) {
    VisionIpcBufExtra extra;
    if (VisionBuf *buf = road.recv(&extra, 50)) {
      auto st = camerad::read_stamp(buf->y, int(buf->stride()), 320, 192);
      ASSERT_TRUE(st.has_value());
      road_shown[extra.frame_id] = st->frame_id;
    }
    if (VisionBuf *buf = wide.recv(&extra, 50)) {
      auto st = camerad::read_stamp(buf->y, int(buf->stride()), 320, 192);
      ASSERT_TRUE(st.has_value()) << "the wide camera shows the same clip";
      EXPECT_EQ(st->frame_id, extra.frame_id % n);
      wide_checked++;
    }
  }
  ASSERT_GE(road_shown.size(), size_t(2 * n)) << "the clip loops";
  for (auto [camera_frame, clip_frame] : road_shown) {
    EXPECT_EQ(clip_frame, camera_frame % n) << "a 20 fps clip under a 20 fps camera: frame k shows clip frame k mod n";
  }
  camerad.signal(SIGINT);
  EXPECT_EQ(camerad.wait(20), 0);
  std::filesystem::remove(clip);
}

TEST(CameradProcess, BadSourcesFailWithAClearMessage) {
  testutil::ScopedPrefix scope("cambad");
  EXPECT_EQ(testutil::Child({"build/bin/camerad", "--source", "tape"}).wait(20), 2);
  EXPECT_EQ(testutil::Child({"build/bin/camerad", "--source", "file:/nonexistent/clip.mp4"}).wait(20), 1);
  if (camerad::v4l2_device_paths().empty()) {
    EXPECT_EQ(testutil::Child({"build/bin/camerad", "--source", "v4l2", "--cameras", "road"}).wait(20), 1);
  }
}

// A FIFO (or any non-regular file) as file: source fails at once instead of
// blocking in open() until a writer appears.
TEST(CameradProcess, FifoSourceFailsInsteadOfHanging) {
  testutil::ScopedPrefix scope("camfifo");
  std::string fifo = std::filesystem::temp_directory_path() / ("camerad_fifo_" + std::to_string(getpid()));
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(testutil::Child({"build/bin/camerad", "--source", "file:" + fifo, "--size", "320x192"}).wait(10), 1);
  EXPECT_EQ(testutil::Child({"build/bin/camerad", "--source", "file:/dev/zero", "--size", "320x192"}).wait(10), 1);
  std::filesystem::remove(fifo);
}

// A file that opens but holds no decodable frame is an error (exit 1), not an
// ended source (exit 0), which a process manager would restart forever.
TEST(CameradProcess, FileWithoutDecodableFramesIsAnError) {
  testutil::ScopedPrefix scope("camnoframe");
  std::filesystem::path clip = std::filesystem::temp_directory_path() / ("camerad_noframe_" + std::to_string(getpid()) + ".ts");
  testutil::write_clip(clip.string(), 320, 192, 4, 20, true);
  std::filesystem::resize_file(clip, 3 * 188);  // PAT, PMT and the start of the first video packet
  for (bool loop : {true, false}) {
    std::vector<std::string> argv = {"build/bin/camerad", "--source", "file:" + clip.string(), "--size", "320x192"};
    if (!loop) argv.push_back("--no-loop");
    EXPECT_EQ(testutil::Child(argv).wait(20), 1) << (loop ? "looping" : "--no-loop");
  }
  std::filesystem::remove(clip);
}
