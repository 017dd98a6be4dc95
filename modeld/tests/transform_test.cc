// The frame transform through its C++ interface: backends agree within 1 LSB,
// the destination is checked, and the history planes move in the same pass.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "modeld/transform.h"

using namespace modeld;

namespace {

std::vector<uint8_t> make_frame(int w, int h, int stride, size_t uv_offset, int seed) {
  std::vector<uint8_t> f(uv_offset + size_t(stride) * h / 2);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) f[size_t(y) * stride + x] = uint8_t((x * 3 + y * 7 + seed * 31 + (x * y) % 13) & 255);
  for (int y = 0; y < h / 2; y++)
    for (int x = 0; x < w; x++) f[uv_offset + size_t(y) * stride + x] = uint8_t((x * 5 - y * 3 + seed) & 255);
  return f;
}

std::vector<float> run(Backend b, const Nv12Frame &f, const Mat3 &m, int ow, int oh) {
  auto device = Device::open(b);
  auto t = FrameTransform::create(device, ow, oh);
  DeviceBuffer out = device->alloc(t->output_floats() * sizeof(float));
  t->run(f, m, out, 0);
  std::vector<float> host(t->output_floats());
  device->download(out, 0, host.data(), host.size() * sizeof(float));
  return host;
}

}  // namespace

TEST(Transform, OpenClMatchesReferenceOnAPerspectiveWarp) {
  if (!backend_unavailable_reason(Backend::kOpenCL).empty()) GTEST_SKIP() << backend_unavailable_reason(Backend::kOpenCL);
  const int w = 640, h = 480, stride = 704;
  const size_t uv_offset = size_t(stride) * h + 128;
  auto data = make_frame(w, h, stride, uv_offset, 3);
  Nv12Frame f{data.data(), w, h, stride, uv_offset};
  Mat3 m = mat3_mul(default_warp(w, h, 128, 64), Mat3{1.0f, 0.1f, -3, 0.05f, 0.9f, 2, 0, 0.002f, 1});
  auto ref = run(Backend::kCpu, f, m, 128, 64);
  auto cl = run(Backend::kOpenCL, f, m, 128, 64);
  ASSERT_EQ(ref.size(), cl.size());
  size_t differing = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    ASSERT_LE(std::fabs(ref[i] - cl[i]), 1.0f) << "element " << i;
    differing += ref[i] != cl[i];
  }
  EXPECT_LT(differing, ref.size() / 100);
}

TEST(Transform, HistoryPlanesMoveInTheSamePass) {
  const int w = 64, h = 32;
  auto a = make_frame(w, h, w, size_t(w) * h, 1), b = make_frame(w, h, w, size_t(w) * h, 2);
  auto device = Device::open(Backend::kCpu);
  auto t = FrameTransform::create(device, 32, 16);
  size_t n = t->output_floats();
  DeviceBuffer out = device->alloc(2 * n * sizeof(float));
  Mat3 m = default_warp(w, h, 32, 16);
  t->run(Nv12Frame{a.data(), w, h, w, size_t(w) * h}, m, out, n);
  std::vector<float> first(n), both(2 * n);
  device->download(out, n * sizeof(float), first.data(), n * sizeof(float));
  t->run(Nv12Frame{b.data(), w, h, w, size_t(w) * h}, m, out, n, 0);
  device->download(out, 0, both.data(), 2 * n * sizeof(float));
  EXPECT_TRUE(std::equal(first.begin(), first.end(), both.begin()));
  EXPECT_FALSE(std::equal(first.begin(), first.end(), both.begin() + n));
}

TEST(Transform, DestinationTooSmallIsAnError) {
  const int w = 64, h = 32;
  auto a = make_frame(w, h, w, size_t(w) * h, 1);
  auto device = Device::open(Backend::kCpu);
  auto t = FrameTransform::create(device, 32, 16);
  DeviceBuffer out = device->alloc(t->output_floats() * sizeof(float) - 4);
  try {
    t->run(Nv12Frame{a.data(), w, h, w, size_t(w) * h}, mat3_identity(), out, 0);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("destination holds 3068 bytes, expected at least 3072"), std::string::npos)
        << e.what();
  }
}

TEST(Transform, CudaRunsOnlyWithADevice) {
  std::string why = backend_unavailable_reason(Backend::kCuda);
  if (!why.empty()) GTEST_SKIP() << "cuda unavailable: " << why;
  const int w = 320, h = 240;
  auto data = make_frame(w, h, w, size_t(w) * h, 5);
  Nv12Frame f{data.data(), w, h, w, size_t(w) * h};
  Mat3 m = default_warp(w, h, 64, 32);
  auto ref = run(Backend::kCpu, f, m, 64, 32), cuda = run(Backend::kCuda, f, m, 64, 32);
  for (size_t i = 0; i < ref.size(); i++) ASSERT_LE(std::fabs(ref[i] - cuda[i]), 1.0f);
}
