#include "visionipc/visionipc_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/prefix.h"
#include "visionipc/announcement.h"
#include "visionipc/handshake.h"

using visionipc::Error;
using visionipc::UniqueFd;

namespace {

constexpr int kReplyTimeoutMs = 2000;
constexpr auto kRetryInterval = std::chrono::milliseconds(20);

// A connected SOCK_SEQPACKET socket to the server, or an invalid fd (errno kept).
UniqueFd dial(const std::string &server_name) {
  std::string path = conduit::socket_path(visionipc::socket_name(server_name));
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return UniqueFd();
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (fd.valid() && ::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    fd.reset();
    errno = err;
  }
  return fd;
}

bool exchange(int sock, visionipc::RequestKind kind, VisionStreamType type, visionipc::Reply *reply,
              std::vector<UniqueFd> *fds, std::string *error) {
  visionipc::Request req = {visionipc::kHandshakeMagic, visionipc::kHandshakeVersion, uint32_t(kind), int32_t(type)};
  try {
    visionipc::send_packet(sock, &req, sizeof(req));
    if (!visionipc::recv_packet(sock, reply, sizeof(*reply), fds, kReplyTimeoutMs)) {
      *error = "server closed the connection or did not reply within " + std::to_string(kReplyTimeoutMs) + " ms";
      return false;
    }
  } catch (const Error &e) {
    *error = e.what();
    return false;
  }
  if (reply->magic != visionipc::kHandshakeMagic || reply->version != visionipc::kHandshakeVersion) {
    *error = "bad reply header: expected magic " + std::to_string(visionipc::kHandshakeMagic) + " version " +
             std::to_string(visionipc::kHandshakeVersion) + ", found " + std::to_string(reply->magic) + " version " +
             std::to_string(reply->version);
    return false;
  }
  if (reply->status != 0) {
    reply->error[sizeof(reply->error) - 1] = '\0';
    *error = std::string("refused by server: ") + reply->error;
    return false;
  }
  return true;
}

}  // namespace

struct VisionIpcClient::Mapping {
  Mapping(size_t n, visionipc::ControlBlock cb) : bufs(new VisionBuf[n]), control(std::move(cb)) {}
  std::unique_ptr<VisionBuf[]> bufs;
  visionipc::ControlBlock control;
};

VisionIpcClient::VisionIpcClient(std::string name, VisionStreamType type, bool conflate, cl_device_id device_id,
                                 cl_context ctx)
    : name_(std::move(name)), type_(type), conflate_(conflate), device_id_(device_id), ctx_(ctx) {
  visionipc::announce_topic(name_, type_);  // validates name and stream now
}

VisionIpcClient::~VisionIpcClient() { disconnect(true); }

bool VisionIpcClient::connect(bool blocking) {
  while (!connect_once()) {
    if (!blocking) return false;
    std::this_thread::sleep_for(kRetryInterval);
  }
  return true;
}

void VisionIpcClient::disconnect(bool resubscribe) {
  if (connected) release();
  connected = false;
  held_ = -1;
  sock_.reset();
  if (resubscribe) sub_.reset();
  buffers = nullptr;
  num_buffers = 0;
  mapping_.reset();
}

bool VisionIpcClient::connect_once() {
  bool was_connected = server_id_ != 0;
  // After a server went away its successor may have recreated the topic: subscribe afresh.
  disconnect(connected);
  if (!handshake()) {
    sock_.reset();
    return false;
  }
  if (was_connected) reconnects_++;
  return true;
}

bool VisionIpcClient::handshake() {
  std::string prev_error = last_error_;
  // Logs each new reason once; a server that is simply not up yet is not news.
  auto fail = [&](const std::string &why, bool quiet = false) {
    last_error_ = why;
    if (!quiet && why != prev_error) fprintf(stderr, "visionipc client '%s/%s': %s\n", name_.c_str(), visionipc::stream_name(type_).c_str(), why.c_str());
    return false;
  };
  // Subscribe before the handshake: every frame announced after the server's
  // reply (next_seq on) is then either received or counted as dropped.
  if (!sub_) {
    try {
      sub_ = msgq::SubSocket::create(visionipc::announce_topic(name_, type_), {conflate_, visionipc::kAnnounceRingSize, /*local=*/true});
    } catch (const msgq::Error &e) {
      return fail(std::string("cannot subscribe to announcements: ") + e.what());
    }
  }
  sock_ = dial(name_);
  if (!sock_.valid()) return fail(std::string("server not reachable: ") + strerror(errno), true);
  visionipc::Reply r = {};
  std::vector<UniqueFd> fds;
  std::string error;
  if (!exchange(sock_.get(), visionipc::RequestKind::kConnect, type_, &r, &fds, &error)) return fail(error);
  if (r.num_buffers == 0 || r.num_buffers > uint32_t(visionipc::kMaxBuffersPerStream) || r.slot < 0 ||
      r.slot >= visionipc::kMaxClientsPerStream || r.memory_kind > uint32_t(visionipc::MemoryKind::kDeviceDmaBuf)) {
    return fail("bad reply: " + std::to_string(r.num_buffers) + " buffers, slot " + std::to_string(r.slot));
  }
  if (fds.size() != r.num_buffers + 2) {
    return fail("expected " + std::to_string(r.num_buffers + 2) + " fds, received " + std::to_string(fds.size()));
  }
  try {
    // The layout is checked, not trusted: a valid 4:2:0 layout (the server's own
    // padding, or a device's strides and plane offsets) that fits in len bytes.
    if (r.uv_step != 1 && r.uv_step != 2) return fail("bad reply: uv_step " + std::to_string(r.uv_step) + ", expected 1 or 2");
    visionipc::BufferLayout layout;
    conduit::Yuv420Layout &f = layout.frame;
    f.width = int(r.width);
    f.height = int(r.height);
    f.stride = int(r.stride);
    f.uv_stride = int(r.uv_stride);
    f.uv_step = int(r.uv_step);
    f.u_offset = size_t(r.u_offset);
    f.v_offset = size_t(r.v_offset);
    layout.len = r.len;
    try {
      f.validate("reply");
    } catch (const std::invalid_argument &e) {
      return fail(std::string("bad buffer layout in ") + e.what());
    }
    if (r.width > 16384 || r.height > 16384 || f.size() > r.len) {
      return fail("buffer layout " + std::to_string(r.width) + "x" + std::to_string(r.height) + " needs " +
                  std::to_string(f.size()) + " bytes, buffers hold " + std::to_string(r.len));
    }
    auto m = std::make_shared<Mapping>(
        r.num_buffers, visionipc::ControlBlock::attach(fds[0].release(), fds[1].release(), r.server_id, r.num_buffers));
    for (uint32_t i = 0; i < r.num_buffers; i++) {
      VisionBuf &b = m->bufs[i];
      b.import(fds[i + 2].release(), visionipc::MemoryKind(r.memory_kind), layout);
      b.idx = i;
      b.type = type_;
      if (device_id_ && ctx_) b.init_cl(device_id_, ctx_);
    }
    mapping_ = std::move(m);
  } catch (const Error &e) {
    return fail(e.what());
  }
  buffers = mapping_->bufs.get();
  num_buffers = r.num_buffers;
  server_id_ = r.server_id;
  next_seq_ = r.next_seq;
  connected = true;
  last_error_.clear();
  return true;
}

bool VisionIpcClient::server_gone() const {
  pollfd p = {sock_.get(), POLLIN | POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && p.revents != 0;
}

void VisionIpcClient::release() {
  if (held_ < 0 || !mapping_) return;
  mapping_->bufs[held_].sync_end(false);
  mapping_->control.release(uint32_t(held_));
  held_ = -1;
}

VisionBuf *VisionIpcClient::recv(VisionIpcBufExtra *extra, int timeout_ms) {
  release();
  if (!connected) connect_once();
  uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : conduit::mono_ns() + uint64_t(timeout_ms) * 1000000;
  for (;;) {
    uint64_t now = conduit::mono_ns();
    int wait_ms = timeout_ms < 0 ? -1 : int(now >= deadline ? 0 : (deadline - now + 999999) / 1000000);
    if (!sub_) {
      // Not even subscribed (msgq refused): retry every 100 ms until the deadline.
      if (now >= deadline) return nullptr;
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms < 0 ? 100 : std::min(wait_ms, 100)));
      connect_once();
      continue;
    }
    if (!sub_->receive(msg_, wait_ms)) {
      // Quiet topic: maybe the server died. Notice it now so the next call reconnects.
      if (connected && server_gone()) connect_once();
      return nullptr;
    }
    visionipc::Announcement a;
    if (msg_.size() != sizeof(a)) {
      rejected_++;
      continue;
    }
    memcpy(&a, msg_.data(), sizeof(a));
    if (a.magic != visionipc::kAnnouncementMagic) {
      rejected_++;
      continue;
    }
    if (!connected || a.server_id != server_id_) {
      // Either a new server (ours died: reconnect) or a stale/foreign announcement.
      if (connected && !server_gone()) {
        rejected_++;
        continue;
      }
      if (!connect_once() || a.server_id != server_id_) continue;
    }
    if (a.buffer_idx >= num_buffers) {
      rejected_++;
      continue;
    }
    if (a.seq >= next_seq_) {
      dropped_ += a.seq - next_seq_;
      next_seq_ = a.seq + 1;
    }
    if (!mapping_->control.try_hold(a.buffer_idx, a.generation)) {
      dropped_++;  // the producer reused the buffer before we got to it
      continue;
    }
    held_ = int(a.buffer_idx);
    VisionBuf *buf = &buffers[a.buffer_idx];
    buf->sync_start(false);
    if (extra) {
      extra->frame_id = a.frame_id;
      extra->timestamp_sof = a.timestamp_sof;
      extra->timestamp_eof = a.timestamp_eof;
      extra->valid = a.valid != 0;
    }
    return buf;
  }
}

std::set<VisionStreamType> VisionIpcClient::getAvailableStreams(const std::string &name, bool blocking) {
  std::set<VisionStreamType> out;
  for (;;) {
    UniqueFd sock = dial(name);
    visionipc::Reply r = {};
    std::string error;
    if (sock.valid() && exchange(sock.get(), visionipc::RequestKind::kListStreams, VISION_STREAM_ROAD, &r, nullptr, &error)) {
      for (uint32_t i = 0; i < r.num_streams && i < uint32_t(VISION_STREAM_MAX); i++) {
        if (r.streams[i] >= 0 && r.streams[i] < VISION_STREAM_MAX) out.insert(VisionStreamType(r.streams[i]));
      }
      return out;
    }
    if (!blocking) return out;
    std::this_thread::sleep_for(kRetryInterval);
  }
}
