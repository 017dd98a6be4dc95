#pragma once
// Shared test setup: one fixture route per test binary (written once, copied
// when a test damages it) and a CONDUIT_PREFIX per test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "camerad/synthetic_scene.h"
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

// A CONDUIT_PREFIX of its own for the running test; its shared-memory directory
// goes when the guard does (declare it first, so it outlives what uses it).
class TestPrefix {
 public:
  TestPrefix() {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = std::string("rt") + std::to_string(getpid()) + "_" + info->name();
    for (char &c : name_) {
      if (!std::isalnum((unsigned char)c) && c != '_') c = '_';
    }
    setenv("CONDUIT_PREFIX", name_.c_str(), 1);
  }
  ~TestPrefix() {
    std::error_code ec;
    fs::remove_all("/dev/shm/conduit_" + name_, ec);
    unsetenv("CONDUIT_PREFIX");
  }

 private:
  std::string name_;
};

// PSNR in dB of the Y and UV planes of an NV12 image against the synthetic frame.
inline double psnr_vs_synthetic(uint32_t frame_id, const uint8_t *y, const uint8_t *uv, int stride, int w, int h) {
  std::vector<uint8_t> ref(size_t(w) * h * 3 / 2);
  camerad::Nv12Frame view{ref.data(), ref.data() + size_t(w) * h, w, h, w};
  camerad::render_synthetic(camerad::CameraStream::Road, frame_id, view);
  double se = 0;
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      double d = double(y[r * stride + c]) - view.y[r * w + c];
      se += d * d;
    }
  }
  for (int r = 0; r < h / 2; ++r) {
    for (int c = 0; c < w; ++c) {
      double d = double(uv[r * stride + c]) - view.uv[r * w + c];
      se += d * d;
    }
  }
  double mse = se / (double(w) * h * 3 / 2);
  return mse == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / mse);
}

}  // namespace replay_test
