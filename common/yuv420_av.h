#pragma once
// A Yuv420Frame (common/yuv420.h) as libavutil / libswscale see an image: its
// pixel format and the plane pointers and line sizes that sws_scale() and
// AVFrame take. NV12 is two planes (Y, interleaved UV), I420 three. Header only,
// so common does not link libav*; include it where libav is used anyway.
extern "C" {
#include <libavutil/pixfmt.h>
}

#include "common/yuv420.h"

namespace conduit {

struct AvPlanes {
  AVPixelFormat format;
  uint8_t *data[4];
  int linesize[4];
};

inline AVPixelFormat av_pixel_format(PixelFormat f) {
  return f == PixelFormat::kNv12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
}

inline AvPlanes av_planes(const Yuv420Frame &f) {
  if (f.format() == PixelFormat::kNv12) return {AV_PIX_FMT_NV12, {f.y, f.u, nullptr, nullptr}, {f.stride, f.uv_stride, 0, 0}};
  return {AV_PIX_FMT_YUV420P, {f.y, f.u, f.v, nullptr}, {f.stride, f.uv_stride, f.uv_stride, 0}};
}

}  // namespace conduit
