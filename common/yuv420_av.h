#pragma once
// A Yuv420Frame (common/yuv420.h) as libavutil / libswscale see an image: its
// pixel format and the plane pointers and line sizes that sws_scale() and
// AVFrame take. NV12 is two planes (Y, interleaved UV), I420 three. Header only,
// so common does not link libav*; include it where libav is used anyway.
extern "C" {
#include <libavutil/frame.h>
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

// The planes of an NV12 or yuv420p AVFrame as a Yuv420Frame (av_planes' inverse).
inline Yuv420Frame av_frame_view(const AVFrame *f) {
  bool nv12 = f->format == AV_PIX_FMT_NV12;
  return {f->data[0], f->data[1], nv12 ? f->data[1] + 1 : f->data[2], f->width, f->height, f->linesize[0],
          f->linesize[1], nv12 ? 2 : 1};
}

}  // namespace conduit
