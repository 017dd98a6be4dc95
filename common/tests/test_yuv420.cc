// The 4:2:0 layout contract (common/yuv420.h) and its copies: layouts validate
// what they promise, and copies between NV12 and I420 keep every sample.
#include <gtest/gtest.h>

#include <vector>

#include "common/yuv420.h"
#include "common/yuv420_copy.h"
#include "common/yuv420_psnr.h"

using conduit::PixelFormat;
using conduit::Yuv420Frame;
using conduit::Yuv420Layout;

namespace {

struct Image {
  std::vector<uint8_t> mem;
  Yuv420Frame frame;
  Image(PixelFormat f, int w, int h, int align = 1) {
    Yuv420Layout l = conduit::yuv420_layout(f, w, h, align, align);
    mem.assign(l.size(), 0);
    frame = Yuv420Frame::at(mem.data(), l);
  }
};

// Every sample a function of its plane and position.
void fill(const Yuv420Frame &f) {
  for (int r = 0; r < f.height; r++)
    for (int c = 0; c < f.width; c++) f.y[size_t(r) * f.stride + c] = uint8_t(r * 7 + c);
  for (int r = 0; r < f.height / 2; r++) {
    for (int c = 0; c < f.width / 2; c++) {
      f.u[size_t(r) * f.uv_stride + size_t(c) * f.uv_step] = uint8_t(r * 3 + c * 5);
      f.v[size_t(r) * f.uv_stride + size_t(c) * f.uv_step] = uint8_t(200 - r - c);
    }
  }
}

}  // namespace

TEST(Yuv420Layout, CompactAndAlignedLayouts) {
  Yuv420Layout nv12 = conduit::yuv420_layout(PixelFormat::kNv12, 64, 32);
  EXPECT_EQ(nv12.u_offset, 64u * 32u);
  EXPECT_EQ(nv12.v_offset, nv12.u_offset + 1);
  EXPECT_EQ(nv12.size(), 64u * 32u * 3 / 2);
  Yuv420Layout i420 = conduit::yuv420_layout(PixelFormat::kI420, 64, 32);
  EXPECT_EQ(i420.uv_stride, 32);
  EXPECT_EQ(i420.v_offset, i420.u_offset + 32u * 16u);
  EXPECT_EQ(i420.size(), 64u * 32u * 3 / 2);
  EXPECT_EQ(i420.format(), PixelFormat::kI420);
  Yuv420Layout padded = conduit::yuv420_layout(PixelFormat::kI420, 100, 30, 64, 16);
  EXPECT_EQ(padded.stride, 128);
  EXPECT_EQ(padded.uv_stride, 64);
  EXPECT_EQ(padded.u_offset, 128u * 32u);
  EXPECT_EQ(conduit::parse_pixel_format("yuv420p"), PixelFormat::kI420);
  EXPECT_EQ(conduit::parse_pixel_format("nv12"), PixelFormat::kNv12);
  EXPECT_THROW(conduit::parse_pixel_format("rgb24"), std::invalid_argument);
}

TEST(Yuv420Layout, ValidateNamesWhatIsWrong) {
  Yuv420Layout ok = conduit::yuv420_layout(PixelFormat::kI420, 64, 32);
  auto fails_with = [](Yuv420Layout l, const std::string &what) {
    try {
      l.validate("test");
    } catch (const std::invalid_argument &e) {
      return std::string(e.what()).find(what) != std::string::npos;
    }
    return false;
  };
  EXPECT_NO_THROW(ok.validate("test"));
  Yuv420Layout l = ok;
  l.width = 63;
  EXPECT_TRUE(fails_with(l, "even width and height"));
  l = ok;
  l.uv_step = 3;
  EXPECT_TRUE(fails_with(l, "uv_step 2 (NV12) or 1 (I420)"));
  l = ok;
  l.u_offset = 100;
  EXPECT_TRUE(fails_with(l, "after the luma rows"));
  l = ok;
  l.v_offset = l.u_offset + 10;
  EXPECT_TRUE(fails_with(l, "U and V apart"));
  l = conduit::yuv420_layout(PixelFormat::kNv12, 64, 32);
  l.v_offset += 1;
  EXPECT_TRUE(fails_with(l, "v_offset = u_offset + 1"));
}

TEST(Yuv420Copy, Nv12ToI420AndBackKeepsEverySample) {
  Image nv12(PixelFormat::kNv12, 96, 48, 64), i420(PixelFormat::kI420, 96, 48), back(PixelFormat::kNv12, 96, 48);
  fill(nv12.frame);
  EXPECT_EQ(conduit::copy_frame(nv12.frame, i420.frame), 96u * 48u * 3 / 2);
  EXPECT_EQ(conduit::psnr(nv12.frame, i420.frame), 99.0);
  EXPECT_EQ(i420.frame.v[0], 200);  // V really went to the V plane
  EXPECT_EQ(conduit::copy_frame(i420.frame, back.frame), 96u * 48u * 3 / 2);
  EXPECT_EQ(conduit::psnr(nv12.frame, back.frame), 99.0);
  Image chroma_only(PixelFormat::kI420, 96, 48);
  EXPECT_EQ(conduit::copy_chroma(nv12.frame, chroma_only.frame), 96u * 48u / 2);
  EXPECT_EQ(chroma_only.frame.y[5], 0) << "copy_chroma leaves Y alone";
  Image small(PixelFormat::kI420, 64, 48);
  EXPECT_THROW(conduit::copy_frame(nv12.frame, small.frame), std::invalid_argument);
}
