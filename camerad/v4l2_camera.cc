#include "camerad/v4l2_camera.h"

extern "C" {
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
}

#include <fcntl.h>
#include <linux/dma-buf.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/clock.h"
#include "common/yuv420_copy.h"
#include "common/yuv420_av.h"

namespace camerad {

namespace {

std::string fourcc(uint32_t f) {
  std::string s;
  for (int i = 0; i < 4; i++) s += char((f >> (8 * i)) & 0xff);
  return s;
}

AVPixelFormat av_format(uint32_t v4l2) {
  switch (v4l2) {
    case V4L2_PIX_FMT_NV12: return AV_PIX_FMT_NV12;
    case V4L2_PIX_FMT_YUYV: return AV_PIX_FMT_YUYV422;
    case V4L2_PIX_FMT_UYVY: return AV_PIX_FMT_UYVY422;
    case V4L2_PIX_FMT_YUV420: return AV_PIX_FMT_YUV420P;
    case V4L2_PIX_FMT_RGB24: return AV_PIX_FMT_RGB24;
    case V4L2_PIX_FMT_BGR24: return AV_PIX_FMT_BGR24;
    default: return AV_PIX_FMT_NONE;
  }
}

int retry_ioctl(int fd, unsigned long req, void *arg) {
  int r;
  do {
    r = ioctl(fd, req, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

bool is_capture_device(const std::string &path, std::string *card, std::string *why) {
  int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *why = path + ": cannot open (" + strerror(errno) + ")";
    return false;
  }
  v4l2_capability cap{};
  bool ok = retry_ioctl(fd, VIDIOC_QUERYCAP, &cap) == 0;
  uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
  ::close(fd);
  if (!ok) {
    *why = path + ": not a V4L2 device";
    return false;
  }
  if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
    *why = path + ": no single-planar streaming video capture";
    return false;
  }
  *card = reinterpret_cast<const char *>(cap.card);
  return true;
}

}  // namespace

std::vector<std::string> v4l2_device_paths(const std::string &dev_dir) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; i++) {
    std::string p = dev_dir + "/video" + std::to_string(i);
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) out.push_back(p);
  }
  return out;
}

V4l2Camera::V4l2Camera(const std::string &device, int width, int height, int fps, conduit::PixelFormat format,
                       const std::string &dev_dir) {
  std::string why;
  if (device.empty()) {
    std::vector<std::string> paths = v4l2_device_paths(dev_dir);
    if (paths.empty()) {
      throw V4l2Error("v4l2: no video capture device: looked for " + dev_dir + "/video0 .. " + dev_dir +
                      "/video63 and found none (is a camera connected and its driver loaded? or use --source synthetic)");
    }
    std::string rejected;
    for (const std::string &p : paths) {
      if (is_capture_device(p, &card_, &why)) {
        device_ = p;
        break;
      }
      rejected += "\n  " + why;
    }
    if (device_.empty()) throw V4l2Error("v4l2: no video capture device among " + dev_dir + "/video*:" + rejected);
  } else {
    if (!is_capture_device(device, &card_, &why)) throw V4l2Error("v4l2: cannot capture from " + why);
    device_ = device;
  }
  fd_ = ::open(device_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw V4l2Error("v4l2: cannot open " + device_ + ": " + strerror(errno));
  try {
    negotiate(width, height, fps, format);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

void V4l2Camera::negotiate(int width, int height, int fps, conduit::PixelFormat format) {
  // The buffers' own layout first; a device without it is asked for NV12 (what
  // most capture hardware writes), which copy_frame() converts while copying.
  // The device may still answer with something else: libswscale converts that.
  const uint32_t wanted = format == conduit::PixelFormat::kNv12 ? V4L2_PIX_FMT_NV12 : V4L2_PIX_FMT_YUV420;
  for (uint32_t pixelformat : {wanted, uint32_t(V4L2_PIX_FMT_NV12)}) {
    v4l2_format f{};
    f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    f.fmt.pix.width = uint32_t(width);
    f.fmt.pix.height = uint32_t(height);
    f.fmt.pix.pixelformat = pixelformat;
    f.fmt.pix.field = V4L2_FIELD_NONE;
    xioctl(VIDIOC_S_FMT, &f, "VIDIOC_S_FMT");
    fmt_ = f.fmt.pix;
    if (fmt_.pixelformat == pixelformat) break;
  }
  if (av_format(fmt_.pixelformat) == AV_PIX_FMT_NONE) {
    throw V4l2Error("v4l2: " + device_ + " delivers " + fourcc(fmt_.pixelformat) +
                    "; expected one of NV12, YUYV, UYVY, YU12, RGB3, BGR3");
  }
  v4l2_streamparm parm{};
  parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  parm.parm.capture.timeperframe = {1, uint32_t(fps)};
  retry_ioctl(fd_, VIDIOC_S_PARM, &parm);  // optional: many devices have a fixed rate
}

V4l2Camera::~V4l2Camera() {
  if (streaming_) {
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    retry_ioctl(fd_, VIDIOC_STREAMOFF, &type);
  }
  for (Mapped &m : mapped_) {
    munmap(m.addr, m.length);
    ::close(m.dmabuf_fd);
  }
  sws_freeContext(sws_);
  if (fd_ >= 0) ::close(fd_);
}

void V4l2Camera::xioctl(unsigned long req, void *arg, const char *what) {
  if (retry_ioctl(fd_, req, arg) < 0) {
    throw V4l2Error(std::string("v4l2: ") + what + " on " + device_ + " failed: " + strerror(errno));
  }
}

std::string V4l2Camera::format() const {
  return fourcc(fmt_.pixelformat) + " " + std::to_string(fmt_.width) + "x" + std::to_string(fmt_.height);
}

std::optional<conduit::Yuv420Layout> V4l2Camera::device_layout() const {
  bool nv12 = fmt_.pixelformat == V4L2_PIX_FMT_NV12;
  if (!nv12 && fmt_.pixelformat != V4L2_PIX_FMT_YUV420) return std::nullopt;
  // Single-planar V4L2: chroma right after the luma rows; I420 chroma rows are half as long.
  conduit::Yuv420Layout l;
  l.width = int(fmt_.width);
  l.height = int(fmt_.height);
  l.stride = int(fmt_.bytesperline);
  l.u_offset = size_t(l.stride) * size_t(l.height);
  l.uv_step = nv12 ? 2 : 1;
  l.uv_stride = nv12 ? l.stride : l.stride / 2;
  l.v_offset = nv12 ? l.u_offset + 1 : l.u_offset + size_t(l.uv_stride) * size_t(l.height / 2);
  return l;
}

bool V4l2Camera::matches_layout(const conduit::Yuv420Layout &layout) const {
  std::optional<conduit::Yuv420Layout> l = device_layout();
  return l && *l == layout;
}

void V4l2Camera::stream_on() {
  int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  xioctl(VIDIOC_STREAMON, &type, "VIDIOC_STREAMON");
  streaming_ = true;
}

void V4l2Camera::start_mmap(int count) {
  v4l2_requestbuffers req{};
  req.count = uint32_t(count);
  req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  req.memory = V4L2_MEMORY_MMAP;
  xioctl(VIDIOC_REQBUFS, &req, "VIDIOC_REQBUFS(MMAP)");
  if (req.count < 2) throw V4l2Error("v4l2: " + device_ + " granted " + std::to_string(req.count) + " buffers, expected >= 2");
  for (uint32_t i = 0; i < req.count; i++) {
    v4l2_buffer b{};
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = i;
    xioctl(VIDIOC_QUERYBUF, &b, "VIDIOC_QUERYBUF");
    v4l2_exportbuffer exp{};
    exp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    exp.index = i;
    exp.flags = O_RDONLY | O_CLOEXEC;
    xioctl(VIDIOC_EXPBUF, &exp, "VIDIOC_EXPBUF");
    void *addr = mmap(nullptr, b.length, PROT_READ, MAP_SHARED, exp.fd, 0);
    if (addr == MAP_FAILED) {
      ::close(exp.fd);
      throw V4l2Error("v4l2: mmap of exported buffer " + std::to_string(i) + " of " + device_ + " failed: " + strerror(errno));
    }
    mapped_.push_back({exp.fd, static_cast<uint8_t *>(addr), b.length});
    xioctl(VIDIOC_QBUF, &b, "VIDIOC_QBUF");
  }
  mode_ = "mmap+expbuf";
  stream_on();
}

bool V4l2Camera::wait_readable(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw V4l2Error("v4l2: poll on " + device_ + " failed: " + strerror(errno));
  if (r > 0 && (p.revents & POLLERR)) throw V4l2Error("v4l2: " + device_ + " reported an error (unplugged?)");
  return r > 0;
}

V4l2Capture V4l2Camera::capture_info(const v4l2_buffer &b) const {
  bool mono = (b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
  uint64_t ts = mono ? uint64_t(b.timestamp.tv_sec) * 1000000000ull + uint64_t(b.timestamp.tv_usec) * 1000ull
                     : conduit::mono_ns();
  return {int(b.index), b.sequence, ts};
}

bool V4l2Camera::capture(const conduit::Yuv420Frame &dst, int timeout_ms, V4l2Capture &info) {
  dst.validate("v4l2 " + device_);
  if (!wait_readable(timeout_ms)) return false;
  v4l2_buffer b{};
  b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  b.memory = V4L2_MEMORY_MMAP;
  if (retry_ioctl(fd_, VIDIOC_DQBUF, &b) < 0) {
    if (errno == EAGAIN) return false;
    throw V4l2Error("v4l2: VIDIOC_DQBUF on " + device_ + " failed: " + strerror(errno));
  }
  info = capture_info(b);
  const Mapped &m = mapped_.at(b.index);
  dma_buf_sync sync{DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
  ioctl(m.dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync);
  int w = int(fmt_.width), h = int(fmt_.height), bpl = int(fmt_.bytesperline);
  std::optional<conduit::Yuv420Layout> src_layout = device_layout();
  if (src_layout && w == dst.width && h == dst.height) {
    // The device's 4:2:0 frame at the right size: one copy, converting the chroma arrangement if it differs.
    bytes_copied_ += conduit::copy_frame(conduit::Yuv420Frame::at(m.addr, *src_layout), dst);
  } else {
    conduit::AvPlanes out = conduit::av_planes(dst);
    AVPixelFormat src_fmt = av_format(fmt_.pixelformat);
    sws_ = sws_getCachedContext(sws_, w, h, src_fmt, dst.width, dst.height, out.format, SWS_BILINEAR, nullptr,
                                nullptr, nullptr);
    const uint8_t *src[4] = {m.addr, nullptr, nullptr, nullptr};
    int src_stride[4] = {bpl, 0, 0, 0};
    if (src_layout) {
      conduit::AvPlanes in = conduit::av_planes(conduit::Yuv420Frame::at(m.addr, *src_layout));
      std::copy(in.data, in.data + 4, src);
      std::copy(in.linesize, in.linesize + 4, src_stride);
    }
    sws_scale(sws_, src, src_stride, 0, h, out.data, out.linesize);
  }
  sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
  ioctl(m.dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync);
  xioctl(VIDIOC_QBUF, &b, "VIDIOC_QBUF");
  return true;
}

void V4l2Camera::start_dmabuf(int slots) {
  v4l2_requestbuffers req{};
  req.count = uint32_t(slots);
  req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  req.memory = V4L2_MEMORY_DMABUF;
  xioctl(VIDIOC_REQBUFS, &req, "VIDIOC_REQBUFS(DMABUF)");
  if (int(req.count) < slots) {
    throw V4l2Error("v4l2: " + device_ + " granted " + std::to_string(req.count) + " DMABUF slots, expected " +
                    std::to_string(slots));
  }
  mode_ = "dmabuf";
}

void V4l2Camera::queue(int slot, int fd, size_t length) {
  v4l2_buffer b{};
  b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  b.memory = V4L2_MEMORY_DMABUF;
  b.index = uint32_t(slot);
  b.m.fd = fd;
  b.length = uint32_t(length);
  xioctl(VIDIOC_QBUF, &b, "VIDIOC_QBUF(DMABUF)");
  queued_++;
  if (!streaming_) stream_on();
}

bool V4l2Camera::dequeue(int timeout_ms, V4l2Capture &info) {
  if (!wait_readable(timeout_ms)) return false;
  v4l2_buffer b{};
  b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  b.memory = V4L2_MEMORY_DMABUF;
  if (retry_ioctl(fd_, VIDIOC_DQBUF, &b) < 0) {
    if (errno == EAGAIN) return false;
    throw V4l2Error("v4l2: VIDIOC_DQBUF(DMABUF) on " + device_ + " failed: " + strerror(errno));
  }
  queued_--;
  info = capture_info(b);
  return true;
}

}  // namespace camerad
