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

// The device buffer of a v4l2_buffer call, with the one plane the multi-planar API needs.
struct DeviceBuffer {
  v4l2_buffer b{};
  v4l2_plane plane{};
  DeviceBuffer(uint32_t type, uint32_t index) {
    b.type = type;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = index;
    if (type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE) {
      b.m.planes = &plane;
      b.length = 1;
    }
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  uint32_t length() const { return b.type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE ? plane.length : b.length; }
};

bool is_capture_device(const std::string &path, std::string *card, uint32_t *type, std::string *why) {
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
  if (!(caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE)) || !(caps & V4L2_CAP_STREAMING)) {
    *why = path + ": no streaming video capture";
    return false;
  }
  *type = (caps & V4L2_CAP_VIDEO_CAPTURE) ? V4L2_BUF_TYPE_VIDEO_CAPTURE : V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
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
      if (is_capture_device(p, &card_, &type_, &why)) {
        device_ = p;
        break;
      }
      rejected += "\n  " + why;
    }
    if (device_.empty()) throw V4l2Error("v4l2: no video capture device among " + dev_dir + "/video*:" + rejected);
  } else {
    if (!is_capture_device(device, &card_, &type_, &why)) throw V4l2Error("v4l2: cannot capture from " + why);
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
  uint32_t planes = 1;
  for (uint32_t pixelformat : {wanted, uint32_t(V4L2_PIX_FMT_NV12)}) {
    v4l2_format f{};
    f.type = type_;
    if (multiplanar()) {
      f.fmt.pix_mp.width = uint32_t(width);
      f.fmt.pix_mp.height = uint32_t(height);
      f.fmt.pix_mp.pixelformat = pixelformat;
      f.fmt.pix_mp.field = V4L2_FIELD_NONE;
      f.fmt.pix_mp.num_planes = 1;
    } else {
      f.fmt.pix.width = uint32_t(width);
      f.fmt.pix.height = uint32_t(height);
      f.fmt.pix.pixelformat = pixelformat;
      f.fmt.pix.field = V4L2_FIELD_NONE;
    }
    xioctl(VIDIOC_S_FMT, &f, "VIDIOC_S_FMT");
    if (multiplanar()) {
      pixelformat_ = f.fmt.pix_mp.pixelformat;
      width_ = f.fmt.pix_mp.width;
      height_ = f.fmt.pix_mp.height;
      bytesperline_ = f.fmt.pix_mp.plane_fmt[0].bytesperline;
      planes = f.fmt.pix_mp.num_planes;
    } else {
      pixelformat_ = f.fmt.pix.pixelformat;
      width_ = f.fmt.pix.width;
      height_ = f.fmt.pix.height;
      bytesperline_ = f.fmt.pix.bytesperline;
    }
    if (pixelformat_ == pixelformat) break;
  }
  if (planes != 1) {
    throw V4l2Error("v4l2: " + device_ + " delivers " + fourcc(pixelformat_) + " in " + std::to_string(planes) +
                    " memory planes; expected a format in one buffer (NV12, YU12, YUYV, UYVY, RGB3, BGR3)");
  }
  if (av_format(pixelformat_) == AV_PIX_FMT_NONE) {
    throw V4l2Error("v4l2: " + device_ + " delivers " + fourcc(pixelformat_) +
                    "; expected one of NV12, YUYV, UYVY, YU12, RGB3, BGR3");
  }
  v4l2_streamparm parm{};
  parm.type = type_;
  parm.parm.capture.timeperframe = {1, uint32_t(fps)};
  retry_ioctl(fd_, VIDIOC_S_PARM, &parm);  // optional: many devices have a fixed rate
}

V4l2Camera::~V4l2Camera() {
  if (streaming_) {
    int type = int(type_);
    retry_ioctl(fd_, VIDIOC_STREAMOFF, &type);
  }
  for (Mapped &m : mapped_) munmap(m.addr, m.length);
  sws_freeContext(sws_);
  if (fd_ >= 0) ::close(fd_);
}

void V4l2Camera::xioctl(unsigned long req, void *arg, const char *what) {
  if (retry_ioctl(fd_, req, arg) < 0) {
    if (errno == ENODEV) {
      throw V4l2Error(std::string("v4l2: ") + device_ + " vanished (" + what +
                      ": no such device): it was unplugged or its driver removed");
    }
    throw V4l2Error(std::string("v4l2: ") + what + " on " + device_ + " failed: " + strerror(errno));
  }
}

std::string V4l2Camera::format() const {
  return fourcc(pixelformat_) + " " + std::to_string(width_) + "x" + std::to_string(height_) +
         (multiplanar() ? " (mplane)" : "");
}

std::optional<conduit::Yuv420Layout> V4l2Camera::device_layout() const {
  bool nv12 = pixelformat_ == V4L2_PIX_FMT_NV12;
  if (!nv12 && pixelformat_ != V4L2_PIX_FMT_YUV420) return std::nullopt;
  // One memory plane: chroma right after the luma rows; I420 chroma rows are half as long.
  conduit::Yuv420Layout l;
  l.width = int(width_);
  l.height = int(height_);
  l.stride = int(bytesperline_);
  l.u_offset = size_t(l.stride) * size_t(l.height);
  l.uv_step = nv12 ? 2 : 1;
  l.uv_stride = nv12 ? l.stride : l.stride / 2;
  l.v_offset = nv12 ? l.u_offset + 1 : l.u_offset + size_t(l.uv_stride) * size_t(l.height / 2);
  return l;
}

void V4l2Camera::stream_on() {
  int type = int(type_);
  xioctl(VIDIOC_STREAMON, &type, "VIDIOC_STREAMON");
  streaming_ = true;
}

void V4l2Camera::request_buffers(int count) {
  v4l2_requestbuffers req{};
  req.count = uint32_t(count);
  req.type = type_;
  req.memory = V4L2_MEMORY_MMAP;
  xioctl(VIDIOC_REQBUFS, &req, "VIDIOC_REQBUFS(MMAP)");
  if (req.count < 2) throw V4l2Error("v4l2: " + device_ + " granted " + std::to_string(req.count) + " buffers, expected >= 2");
  lengths_.clear();
  for (uint32_t i = 0; i < req.count; i++) {
    DeviceBuffer d(type_, i);
    xioctl(VIDIOC_QUERYBUF, &d.b, "VIDIOC_QUERYBUF");
    lengths_.push_back(d.length());
  }
}

std::vector<visionipc::UniqueFd> V4l2Camera::export_buffers(int count) {
  request_buffers(count);
  std::vector<visionipc::UniqueFd> fds;
  for (uint32_t i = 0; i < lengths_.size(); i++) {
    v4l2_exportbuffer exp{};
    exp.type = type_;
    exp.index = i;
    exp.flags = O_RDWR | O_CLOEXEC;
    xioctl(VIDIOC_EXPBUF, &exp, "VIDIOC_EXPBUF");
    fds.emplace_back(exp.fd);
  }
  return fds;
}

void V4l2Camera::queue(int index) {
  DeviceBuffer d(type_, uint32_t(index));
  xioctl(VIDIOC_QBUF, &d.b, "VIDIOC_QBUF");
  queued_++;
  if (!streaming_) stream_on();
}

bool V4l2Camera::wait_readable(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw V4l2Error("v4l2: poll on " + device_ + " failed: " + strerror(errno));
  if (r > 0 && (p.revents & (POLLERR | POLLHUP))) {
    // An unregistered video device polls as error + hang-up; a live one with
    // nothing queued as error only.
    v4l2_capability cap{};
    if ((p.revents & POLLHUP) || (retry_ioctl(fd_, VIDIOC_QUERYCAP, &cap) < 0 && errno == ENODEV)) {
      throw V4l2Error("v4l2: " + device_ + " vanished mid-stream: it was unplugged or its driver removed");
    }
    throw V4l2Error("v4l2: " + device_ + " reported an error while streaming (no buffer queued, or a device fault)");
  }
  return r > 0;
}

bool V4l2Camera::dequeue(int timeout_ms, V4l2Capture &info) {
  if (!wait_readable(timeout_ms)) return false;
  DeviceBuffer d(type_, 0);
  if (retry_ioctl(fd_, VIDIOC_DQBUF, &d.b) < 0) {
    if (errno == EAGAIN) return false;
    if (errno == ENODEV) throw V4l2Error("v4l2: " + device_ + " vanished mid-stream (VIDIOC_DQBUF: no such device): it was unplugged or its driver removed");
    throw V4l2Error("v4l2: VIDIOC_DQBUF on " + device_ + " failed: " + strerror(errno));
  }
  queued_--;
  const v4l2_buffer &b = d.b;
  bool mono = (b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
  uint64_t ts = mono ? uint64_t(b.timestamp.tv_sec) * 1000000000ull + uint64_t(b.timestamp.tv_usec) * 1000ull
                     : conduit::mono_ns();
  info = {int(b.index), b.sequence, ts};
  return true;
}

void V4l2Camera::start_copy(int count) {
  std::vector<visionipc::UniqueFd> fds = export_buffers(count);
  for (size_t i = 0; i < fds.size(); i++) {
    void *addr = mmap(nullptr, lengths_[i], PROT_READ, MAP_SHARED, fds[i].get(), 0);
    if (addr == MAP_FAILED) {
      throw V4l2Error("v4l2: mmap of exported buffer " + std::to_string(i) + " of " + device_ + " failed: " + strerror(errno));
    }
    mapped_.push_back({std::move(fds[i]), static_cast<uint8_t *>(addr), lengths_[i]});
    queue(int(i));
  }
}

bool V4l2Camera::capture(const conduit::Yuv420Frame &dst, int timeout_ms, V4l2Capture &info) {
  dst.validate("v4l2 " + device_);
  if (!dequeue(timeout_ms, info)) return false;
  const Mapped &m = mapped_.at(size_t(info.index));
  dma_buf_sync sync{DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
  ioctl(m.dmabuf.get(), DMA_BUF_IOCTL_SYNC, &sync);
  int w = int(width_), h = int(height_);
  std::optional<conduit::Yuv420Layout> src_layout = device_layout();
  if (src_layout && w == dst.width && h == dst.height) {
    // The device's 4:2:0 frame at the right size: one copy, converting the chroma arrangement if it differs.
    bytes_copied_ += conduit::copy_frame(conduit::Yuv420Frame::at(m.addr, *src_layout), dst);
  } else {
    conduit::AvPlanes out = conduit::av_planes(dst);
    sws_ = sws_getCachedContext(sws_, w, h, av_format(pixelformat_), dst.width, dst.height, out.format, SWS_BILINEAR,
                                nullptr, nullptr, nullptr);
    const uint8_t *src[4] = {m.addr, nullptr, nullptr, nullptr};
    int src_stride[4] = {int(bytesperline_), 0, 0, 0};
    if (src_layout) {
      conduit::AvPlanes in = conduit::av_planes(conduit::Yuv420Frame::at(m.addr, *src_layout));
      std::copy(in.data, in.data + 4, src);
      std::copy(in.linesize, in.linesize + 4, src_stride);
    }
    sws_scale(sws_, src, src_stride, 0, h, out.data, out.linesize);
  }
  sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
  ioctl(m.dmabuf.get(), DMA_BUF_IOCTL_SYNC, &sync);
  queue(info.index);
  return true;
}

}  // namespace camerad
