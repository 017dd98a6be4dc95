#pragma once
// A V4L2 capture device (/dev/videoN) as a camera, in one of two modes chosen
// at run time:
//   dmabuf  the device writes frames straight into the caller's DMA-BUFs
//           (VisionIPC buffers from a DMA-BUF heap): V4L2_MEMORY_DMABUF, no copy.
//           Needs the buffers' layout (NV12 or I420) from the device, exactly.
//   mmap    the device's own buffers (V4L2_MEMORY_MMAP), exported as DMA-BUFs
//           with VIDIOC_EXPBUF and read through that mapping (with DMA_BUF
//           sync), then written once into the caller's buffer: copied when the
//           device gives the buffer's pixel format at its size, converted with
//           libswscale otherwise (NV12, YUYV, UYVY, I420, RGB24, BGR24).
// The device is asked for the pixel format the caller's buffers have (NV12 or
// I420), then for NV12; it may answer with another one, which mmap mode converts.
//
// Errors: V4l2Error naming the device, the ioctl and what was expected vs found;
// without any device, the message names the paths that were looked for.
// Threads: one thread per camera.
#include <linux/videodev2.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/yuv420.h"

struct SwsContext;

namespace camerad {

struct V4l2Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The capture devices under /dev (video0..video63) that exist; empty when none.
std::vector<std::string> v4l2_device_paths(const std::string &dev_dir = "/dev");

struct V4l2Capture {
  int slot;                // dmabuf mode: the slot the frame landed in
  uint32_t sequence;       // driver's frame counter (gaps = frames the device dropped)
  uint64_t timestamp_ns;   // CLOCK_MONOTONIC start of frame when the driver says so, else dequeue time
};

class V4l2Camera {
 public:
  // device "" = the first device that can capture video (see v4l2_device_paths).
  // Negotiates width x height at fps in `format` (the device may pick another
  // size or format: then mmap mode converts).
  V4l2Camera(const std::string &device, int width, int height, int fps, conduit::PixelFormat format,
             const std::string &dev_dir = "/dev");
  ~V4l2Camera();
  V4l2Camera(const V4l2Camera &) = delete;
  V4l2Camera &operator=(const V4l2Camera &) = delete;

  const std::string &device() const { return device_; }
  const std::string &card() const { return card_; }
  std::string format() const;  // fourcc and size the device delivers, e.g. "NV12 1928x1208"

  // True when the device delivers exactly this layout (dmabuf mode possible).
  bool matches_layout(const conduit::Yuv420Layout &layout) const;

  // mmap mode: allocates, exports and queues `count` device buffers, starts streaming.
  void start_mmap(int count);
  // Waits up to timeout_ms for a frame, writes it into dst. False on timeout.
  bool capture(const conduit::Yuv420Frame &dst, int timeout_ms, V4l2Capture &info);

  // dmabuf mode: `slots` slots, then queue(slot, fd, length) the caller's buffers.
  // Throws V4l2Error when the driver refuses DMABUF import.
  void start_dmabuf(int slots);
  void queue(int slot, int fd, size_t length);
  // Waits up to timeout_ms for a filled slot. False on timeout.
  bool dequeue(int timeout_ms, V4l2Capture &info);
  int queued() const { return queued_; }

  const char *mode() const { return mode_; }
  uint64_t bytes_copied() const { return bytes_copied_; }

 private:
  void negotiate(int width, int height, int fps, conduit::PixelFormat format);
  // The device's frame layout when it delivers NV12 or I420 (YU12); nullopt otherwise.
  std::optional<conduit::Yuv420Layout> device_layout() const;
  void xioctl(unsigned long req, void *arg, const char *what);
  bool wait_readable(int timeout_ms);
  void stream_on();
  V4l2Capture capture_info(const v4l2_buffer &b) const;

  std::string device_, card_;
  int fd_ = -1;
  v4l2_pix_format fmt_{};
  const char *mode_ = "none";
  bool streaming_ = false;
  int queued_ = 0;
  struct Mapped {
    int dmabuf_fd;
    uint8_t *addr;
    size_t length;
  };
  std::vector<Mapped> mapped_;
  SwsContext *sws_ = nullptr;
  uint64_t bytes_copied_ = 0;
};

}  // namespace camerad
