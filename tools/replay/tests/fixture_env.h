#pragma once
// Shared test setup: one fixture route per test binary (written once, copied
// when a test damages it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "camerad/synthetic_scene.h"
#include "common/yuv420_psnr.h"
#include "tools/replay/fixture_route.h"

namespace replay_test {

namespace fs = std::filesystem;

inline replay::FixtureOptions fixture_options() {
  replay::FixtureOptions o;
  o.dir = (fs::temp_directory_path() / ("replay_test_" + std::to_string(getpid()))).string();
  return o;  // 2 segments x 40 frames of 320x240 at 20 fps = 4 s
}

// Writes the fixture on first use; removed at exit.
inline const replay::FixtureRoute &fixture() {
  static const replay::FixtureRoute route = [] {
    auto o = fixture_options();
    fs::remove_all(o.dir);
    auto r = replay::write_fixture_route(o);
    std::atexit([] { fs::remove_all(fixture_options().dir); });
    return r;
  }();
  return route;
}

// A private copy of the fixture's log root, for tests that damage files.
inline std::string fixture_copy(const std::string &tag) {
  fixture();
  std::string dst = fixture_options().dir + "_" + tag;
  fs::remove_all(dst);
  fs::copy(fixture_options().dir, dst, fs::copy_options::recursive);
  return dst;
}

// PSNR in dB of an image (any 4:2:0 layout) against the synthetic road frame.
inline double psnr_vs_synthetic(uint32_t frame_id, const conduit::Yuv420Frame &img) {
  conduit::Yuv420Layout l = conduit::yuv420_layout(conduit::PixelFormat::kNv12, img.width, img.height);
  std::vector<uint8_t> ref(l.size());
  conduit::Yuv420Frame view = conduit::Yuv420Frame::at(ref.data(), l);
  camerad::render_synthetic(camerad::CameraStream::Road, frame_id, view);
  return conduit::psnr(img, view);
}

}  // namespace replay_test
