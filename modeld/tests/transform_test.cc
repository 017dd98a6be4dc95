// The frame transform through its C++ interface: backends agree within 1 LSB,
// NV12 and I420 frames of one picture give the same output, the destination is
// checked, and the history planes move in the same pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/yuv420_copy.h"
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

// NV12 with padded rows and a gap before the chroma, like a VisionIPC buffer.
Frame nv12_frame(const std::vector<uint8_t> &data, int w, int h, int stride, size_t uv_offset) {
  return {data.data(), {w, h, stride, uv_offset, uv_offset + 1, stride, 2}};
}

const Mat3 kPerspective = {1.0f, 0.1f, -3, 0.05f, 0.9f, 2, 0, 0.002f, 1};

std::vector<float> run(Backend b, const Frame &f, const Mat3 &m, int ow, int oh) {
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
  Frame f = nv12_frame(data, w, h, stride, uv_offset);
  Mat3 m = mat3_mul(default_warp(w, h, 128, 64), kPerspective);
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

// The kernels read chroma through (offset, row stride, pixel step): the same
// picture as NV12 and as I420 (VisionIPC's padded layout) warps to the same
// model frame, on every backend this machine has.
class TransformLayouts : public ::testing::TestWithParam<Backend> {};

TEST_P(TransformLayouts, I420AndNv12GiveTheSameOutput) {
  const Backend b = GetParam();
  if (!backend_unavailable_reason(b).empty()) GTEST_SKIP() << backend_unavailable_reason(b);
  const int w = 640, h = 480, stride = 704;
  const size_t uv_offset = size_t(stride) * h + 128;
  auto data = make_frame(w, h, stride, uv_offset, 5);
  Frame nv12 = nv12_frame(data, w, h, stride, uv_offset);
  conduit::Yuv420Layout l = conduit::yuv420_layout(conduit::PixelFormat::kI420, w, h, 64, 16);
  std::vector<uint8_t> planar(l.size(), 0);
  conduit::copy_frame(conduit::Yuv420Frame::at(data.data(), nv12.layout), conduit::Yuv420Frame::at(planar.data(), l));
  Frame i420{planar.data(), l};
  Mat3 m = mat3_mul(default_warp(w, h, 128, 64), kPerspective);
  std::vector<float> a = run(b, nv12, m, 128, 64), c = run(b, i420, m, 128, 64);
  ASSERT_EQ(a.size(), c.size());
  size_t plane = a.size() / 6;
  for (size_t i = 0; i < a.size(); i++) ASSERT_EQ(a[i], c[i]) << "plane " << i / plane << " element " << i % plane;
  // The chroma planes are not constant, so U/V mix-ups would show.
  EXPECT_NE(*std::min_element(a.begin() + 4 * plane, a.end()), *std::max_element(a.begin() + 4 * plane, a.end()));
}

INSTANTIATE_TEST_SUITE_P(Backends, TransformLayouts, ::testing::Values(Backend::kCpu, Backend::kOpenCL, Backend::kCuda),
                         [](const auto &info) { return std::string(backend_name(info.param)); });

TEST(Transform, HistoryPlanesMoveInTheSamePass) {
  const int w = 64, h = 32;
  auto a = make_frame(w, h, w, size_t(w) * h, 1), b = make_frame(w, h, w, size_t(w) * h, 2);
  auto device = Device::open(Backend::kCpu);
  auto t = FrameTransform::create(device, 32, 16);
  size_t n = t->output_floats();
  DeviceBuffer out = device->alloc(2 * n * sizeof(float));
  Mat3 m = default_warp(w, h, 32, 16);
  t->run(Frame{a.data(), conduit::yuv420_layout(conduit::PixelFormat::kNv12, w, h)}, m, out, n);
  std::vector<float> first(n), both(2 * n);
  device->download(out, n * sizeof(float), first.data(), n * sizeof(float));
  t->run(Frame{b.data(), conduit::yuv420_layout(conduit::PixelFormat::kNv12, w, h)}, m, out, n, 0);
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
    t->run(Frame{a.data(), conduit::yuv420_layout(conduit::PixelFormat::kNv12, w, h)}, mat3_identity(), out, 0);
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
  Frame f{data.data(), conduit::yuv420_layout(conduit::PixelFormat::kNv12, w, h)};
  Mat3 m = default_warp(w, h, 64, 32);
  auto ref = run(Backend::kCpu, f, m, 64, 32), cuda = run(Backend::kCuda, f, m, 64, 32);
  for (size_t i = 0; i < ref.size(); i++) ASSERT_LE(std::fabs(ref[i] - cuda[i]), 1.0f);
}
