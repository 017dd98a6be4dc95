#pragma once
// A V4L2 capture device (/dev/videoN, single- or multi-planar API) as a camera,
// in one of two paths chosen by the caller:
//   dmabuf  zero copy: the device's own buffers (V4L2_MEMORY_MMAP) exported as
//           DMA-BUFs (VIDIOC_EXPBUF) are handed out as they are; the caller
//           queues a buffer only when nobody reads it any more. Needs an NV12 or
//           I420 frame at the requested size (device_layout()).
//   copy    the same exported buffers read through their mapping (with DMA-BUF
//           sync) and written once into the caller's buffer: copied when the
//           device gives a 4:2:0 frame at its size, converted with libswscale
//           otherwise (NV12, YUYV, UYVY, I420, RGB24, BGR24).
// The device is asked for the pixel format the caller's buffers have (NV12 or
// I420), then for NV12; it may answer with another one, which copy converts.
// Formats that need several memory planes (NV12M) are not asked for.
//
// Errors: V4l2Error naming the device, the ioctl and what was expected vs found;
// without any device, the message names the paths that were looked for; a
// device that vanishes mid-stream (unplugged, driver removed) says so.
// Threads: one thread per camera.
#include <linux/videodev2.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/yuv420.h"
#include "visionipc/unique_fd.h"

struct SwsContext;

namespace camerad {

struct V4l2Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The capture devices under /dev (video0..video63) that exist; empty when none.
std::vector<std::string> v4l2_device_paths(const std::string &dev_dir = "/dev");

struct V4l2Capture {
  int index;               // device buffer the frame is in
  uint32_t sequence;       // driver's frame counter (gaps = frames the device dropped)
  uint64_t timestamp_ns;   // CLOCK_MONOTONIC start of frame when the driver says so, else dequeue time
};

class V4l2Camera {
 public:
  // device "" = the first device that can capture video (see v4l2_device_paths).
  // Negotiates width x height at fps in `format` (the device may pick another
  // size or format: then only the copy path fits).
  V4l2Camera(const std::string &device, int width, int height, int fps, conduit::PixelFormat format,
             const std::string &dev_dir = "/dev");
  ~V4l2Camera();
  V4l2Camera(const V4l2Camera &) = delete;
  V4l2Camera &operator=(const V4l2Camera &) = delete;

  const std::string &device() const { return device_; }
  const std::string &card() const { return card_; }
  bool multiplanar() const { return type_ == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE; }
  std::string format() const;  // fourcc, size and API the device delivers, e.g. "NV12 1928x1208 (mplane)"
  // The device's frame layout (its bytesperline, chroma right after the luma
  // rows) when it delivers NV12 or I420 (YU12); nullopt otherwise.
  std::optional<conduit::Yuv420Layout> device_layout() const;

  // dmabuf path: allocates `count` device buffers, exports each as a DMA-BUF
  // (the caller owns the fds). Nothing is queued yet. Throws V4l2Error when the
  // driver cannot export.
  std::vector<visionipc::UniqueFd> export_buffers(int count);
  // Hands device buffer `index` to the device (starts streaming the first time).
  void queue(int index);
  int queued() const { return queued_; }
  // Waits up to timeout_ms for a filled buffer; it is the caller's until queue().
  // False on timeout.
  bool dequeue(int timeout_ms, V4l2Capture &info);

  // copy path: allocates, exports, maps and queues `count` buffers, starts streaming.
  void start_copy(int count);
  // Waits up to timeout_ms for a frame, writes it into dst, gives the buffer back. False on timeout.
  bool capture(const conduit::Yuv420Frame &dst, int timeout_ms, V4l2Capture &info);
  uint64_t bytes_copied() const { return bytes_copied_; }

 private:
  void negotiate(int width, int height, int fps, conduit::PixelFormat format);
  void xioctl(unsigned long req, void *arg, const char *what);
  void request_buffers(int count);
  bool wait_readable(int timeout_ms);
  void stream_on();

  std::string device_, card_;
  int fd_ = -1;
  uint32_t type_ = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  uint32_t pixelformat_ = 0, width_ = 0, height_ = 0, bytesperline_ = 0;
  bool streaming_ = false;
  int queued_ = 0;
  std::vector<uint32_t> lengths_;  // bytes per device buffer
  struct Mapped {
    visionipc::UniqueFd dmabuf;
    uint8_t *addr;
    size_t length;
  };
  std::vector<Mapped> mapped_;  // copy path
  SwsContext *sws_ = nullptr;
  uint64_t bytes_copied_ = 0;
};

}  // namespace camerad
