#pragma once
// The 4:2:0 frame contract shared by camerad, VisionIPC, modeld and encoderd,
// in the style of Android's YUV_420_888: a full-resolution Y plane and two
// half-resolution chroma planes U and V, each described by where it starts, the
// bytes between its rows and the bytes between its samples (the pixel step).
//
//   NV12 (semi-planar)  U and V interleaved in one plane: v_offset = u_offset + 1,
//                       uv_step 2, uv_stride = stride. What camera ISPs write.
//   I420 (planar)       U plane, then V plane: uv_step 1, uv_stride >= width / 2.
//                       What libx265 accepts (libavcodec's yuv420p).
//
// A consumer that reads chroma through (offset, uv_stride, uv_step) handles both
// without knowing which it got. Yuv420Layout says where the planes lie relative
// to the start of a buffer (it crosses processes and devices); Yuv420Frame is
// the same picture as pointers into memory somebody else owns (nothing is
// copied, nothing freed). Errors: std::invalid_argument naming what is wrong.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace conduit {

enum class PixelFormat : uint32_t { kNv12 = 1, kI420 = 2 };

// libavcodec's names: "nv12", "yuv420p".
const char *pixel_format_name(PixelFormat f);
// Accepts "nv12" and "yuv420p" (or "i420"); throws naming the accepted values.
PixelFormat parse_pixel_format(const std::string &name);

struct Yuv420Layout {
  int width = 0, height = 0;  // luma pixels, both even
  int stride = 0;             // bytes between luma rows (Y starts at offset 0)
  size_t u_offset = 0, v_offset = 0;
  int uv_stride = 0;  // bytes between chroma rows
  int uv_step = 0;    // bytes between chroma samples of a row: 2 NV12, 1 I420

  PixelFormat format() const { return uv_step == 2 ? PixelFormat::kNv12 : PixelFormat::kI420; }
  // Bytes from the start to one past the last byte any plane uses.
  size_t size() const;
  // Throws unless: even positive size, stride >= width, an NV12 or I420 chroma
  // arrangement with rows wide enough, chroma after the luma rows, U and V apart
  // (or interleaved for NV12). Cheap enough per frame: the message is built only on failure.
  void validate(std::string_view what) const;
  bool operator==(const Yuv420Layout &o) const {
    return width == o.width && height == o.height && stride == o.stride && u_offset == o.u_offset &&
           v_offset == o.v_offset && uv_stride == o.uv_stride && uv_step == o.uv_step;
  }
};

// `format` at width x height: luma rows of stride = width rounded up to
// `stride_align` bytes, `height` rounded up to `row_align` rows before the
// chroma; I420 chroma rows are stride / 2 bytes (stride_align even keeps them
// aligned to half of it). Alignment 1 gives the compact layout (e.g. what
// libavcodec calls a packed nv12 / yuv420p image).
Yuv420Layout yuv420_layout(PixelFormat format, int width, int height, int stride_align = 1, int row_align = 1);

struct Yuv420Frame {
  uint8_t *y = nullptr, *u = nullptr, *v = nullptr;
  int width = 0, height = 0, stride = 0, uv_stride = 0, uv_step = 0;

  // The frame `layout` describes in memory starting at `base`.
  static Yuv420Frame at(uint8_t *base, const Yuv420Layout &layout);
  PixelFormat format() const { return uv_step == 2 ? PixelFormat::kNv12 : PixelFormat::kI420; }
  // One past the last byte any plane uses.
  const uint8_t *end() const;
  // Throws like Yuv420Layout::validate (planes may lie anywhere, but must not overlap).
  void validate(std::string_view what) const;
};

}  // namespace conduit
