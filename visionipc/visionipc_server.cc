#include "visionipc/visionipc_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "common/clock.h"
#include "common/prefix.h"
#include "visionipc/announcement.h"
#include "visionipc/handshake.h"

using visionipc::Error;
using visionipc::UniqueFd;

namespace {

// A connected peer that has not sent its request by then is dropped, so a
// stuck or malicious client cannot pin a connection forever.
constexpr uint64_t kHandshakeTimeoutNs = 2'000'000'000ull;

uint64_t random_server_id() {
  uint64_t id = 0;
  while (id == 0) {
    if (getrandom(&id, sizeof(id), 0) != sizeof(id)) id = conduit::mono_ns() ^ (uint64_t(getpid()) << 40);
  }
  return id;
}

sockaddr_un unix_address(const std::string &path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    throw Error("socket path too long (" + std::to_string(path.size()) + " bytes, at most " +
                std::to_string(sizeof(addr.sun_path) - 1) + "): " + path);
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

}  // namespace

struct VisionIpcServer::Stream {
  Stream(VisionStreamType t, visionipc::BufferLayout l, size_t n, visionipc::ControlBlock cb)
      : type(t), layout(l), count(n), bufs(new VisionBuf[n]), control(std::move(cb)) {}
  VisionStreamType type;
  visionipc::BufferLayout layout;
  size_t count;
  std::unique_ptr<VisionBuf[]> bufs;
  visionipc::ControlBlock control;
  std::unique_ptr<msgq::PubSocket> pub;
  uint32_t generation[visionipc::kMaxBuffersPerStream] = {};  // producer thread
  bool claimed[visionipc::kMaxBuffersPerStream] = {};         // from get_buffer(), not sent yet
  size_t next = 0;                                            // round robin, producer thread
  std::atomic<uint64_t> sent{0}, dropped{0};
  std::atomic<uint32_t> over_budget{0};  // slots the listener must disconnect
  uint32_t used_slots = 0;  // under slots_mutex_
  bool device = false;      // a device writes the buffers, not the CPU: no CPU sync around it
};

struct VisionIpcServer::Connection {
  UniqueFd fd;
  int stream = -1;  // >= 0 once attached
  int slot = -1;
  pid_t pid = 0;  // of the peer, from SO_PEERCRED
  uint64_t deadline_ns = 0;
  // Set at accept time (e.g. wrong uid); sent once the request arrives, so the
  // peer reads the reason instead of a connection reset.
  std::string refuse_reason;
};

VisionIpcServer::VisionIpcServer(std::string name, cl_device_id device_id, cl_context ctx)
    : name_(std::move(name)), device_id_(device_id), ctx_(ctx), server_id_(random_server_id()) {
  visionipc::socket_name(name_);  // validates the name now rather than at start_listener()
  streams_.resize(VISION_STREAM_MAX);
}

VisionIpcServer::~VisionIpcServer() {
  if (listener_.joinable()) {
    uint64_t one = 1;
    if (write(stop_fd_.get(), &one, sizeof(one)) != sizeof(one)) perror("visionipc: stopping listener");
    listener_.join();
  }
  connections_.clear();
  if (listen_fd_.valid()) unlink(socket_path_.c_str());
}

VisionIpcServer::Stream &VisionIpcServer::stream(VisionStreamType type) const {
  if (type < 0 || type >= VISION_STREAM_MAX || !streams_[type]) {
    throw Error("server '" + name_ + "' has no stream " + std::to_string(int(type)) + ": call create_buffers() first");
  }
  return *streams_[type];
}

void VisionIpcServer::create_buffers(VisionStreamType type, size_t num_buffers, size_t width, size_t height,
                                     conduit::PixelFormat format) {
  std::string sname = visionipc::stream_name(type);
  if (listener_.joinable()) throw Error("create_buffers(" + sname + ") after start_listener(): create all streams first");
  if (streams_[type]) throw Error("stream " + sname + " of server '" + name_ + "' already has buffers");
  if (num_buffers == 0 || num_buffers > size_t(visionipc::kMaxBuffersPerStream)) {
    throw Error("buffer count " + std::to_string(num_buffers) + " is invalid: expected 1.." +
                std::to_string(visionipc::kMaxBuffersPerStream));
  }
  visionipc::BufferLayout layout = visionipc::buffer_layout(format, uint32_t(width), uint32_t(height));
  auto s = std::make_unique<Stream>(type, layout, num_buffers, visionipc::ControlBlock::create(server_id_, uint32_t(num_buffers)));
  for (size_t i = 0; i < num_buffers; i++) {
    VisionBuf &b = s->bufs[i];
    b.allocate(layout, "vipc_" + name_ + "_" + sname);
    b.idx = i;
    b.type = type;
    if (device_id_ && ctx_) b.init_cl(device_id_, ctx_);
  }
  s->pub = msgq::PubSocket::create(visionipc::announce_topic(name_, type), visionipc::kAnnounceRingSize, /*local=*/true);
  streams_[type] = std::move(s);
}

void VisionIpcServer::create_device_buffers(VisionStreamType type, std::vector<UniqueFd> fds,
                                           const conduit::Yuv420Layout &layout) {
  std::string sname = visionipc::stream_name(type);
  if (listener_.joinable()) throw Error("create_device_buffers(" + sname + ") after start_listener(): create all streams first");
  if (streams_[type]) throw Error("stream " + sname + " of server '" + name_ + "' already has buffers");
  if (fds.empty() || fds.size() > size_t(visionipc::kMaxBuffersPerStream)) {
    throw Error("device buffer count " + std::to_string(fds.size()) + " is invalid: expected 1.." +
                std::to_string(visionipc::kMaxBuffersPerStream));
  }
  layout.validate("device buffers of stream " + sname);
  off_t size = lseek(fds[0].get(), 0, SEEK_END);
  if (size < 0 || size_t(size) < layout.size()) {
    throw Error("device buffer of stream " + sname + " holds " + std::to_string(size) + " bytes, its layout needs " +
                std::to_string(layout.size()));
  }
  visionipc::BufferLayout bl{layout, uint64_t(size)};
  auto s = std::make_unique<Stream>(type, bl, fds.size(), visionipc::ControlBlock::create(server_id_, uint32_t(fds.size())));
  s->device = true;
  for (size_t i = 0; i < fds.size(); i++) {
    VisionBuf &b = s->bufs[i];
    b.import(fds[i].release(), visionipc::MemoryKind::kDeviceDmaBuf, bl);
    b.idx = i;
    b.type = type;
  }
  s->pub = msgq::PubSocket::create(visionipc::announce_topic(name_, type), visionipc::kAnnounceRingSize, /*local=*/true);
  streams_[type] = std::move(s);
}

void VisionIpcServer::start_listener() {
  if (listener_.joinable()) throw Error("start_listener() called twice on server '" + name_ + "'");
  socket_path_ = conduit::socket_path(visionipc::socket_name(name_));
  sockaddr_un addr = unix_address(socket_path_);

  UniqueFd probe(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (connect(probe.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0) {
    throw Error("another VisionIPC server named '" + name_ + "' is running (" + socket_path_ + ")");
  }
  unlink(socket_path_.c_str());  // left behind by a server that died

  listen_fd_.reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_.valid()) throw Error(std::string("socket(AF_UNIX, SOCK_SEQPACKET): ") + strerror(errno));
  // The directory is 0700 already; the chmod narrows the socket itself to 0600.
  if (bind(listen_fd_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
      chmod(socket_path_.c_str(), 0600) != 0 || listen(listen_fd_.get(), visionipc::kMaxPendingConnections) != 0) {
    std::string err = strerror(errno);
    listen_fd_.reset();
    throw Error("cannot listen on " + socket_path_ + ": " + err);
  }
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_.valid() || !wake_fd_.valid()) throw Error(std::string("eventfd: ") + strerror(errno));
  listener_ = std::thread(&VisionIpcServer::listener_loop, this);
}

VisionBuf *VisionIpcServer::get_buffer(VisionStreamType type) {
  Stream &s = stream(type);
  if (uint32_t bad = s.control.take_over_budget()) {
    s.over_budget.fetch_or(bad);
    uint64_t one = 1;
    if (write(wake_fd_.get(), &one, sizeof(one)) < 0) {
      // The counter is full, so the listener is awake already.
    }
  }
  for (size_t i = 0; i < s.count; i++) {
    size_t idx = (s.next + i) % s.count;
    uint32_t gen;
    if (s.control.try_claim(uint32_t(idx), &gen)) {
      s.generation[idx] = gen;
      s.claimed[idx] = true;
      s.next = idx + 1;
      if (!s.device) s.bufs[idx].sync_start(true);
      return &s.bufs[idx];
    }
  }
  s.dropped.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

VisionBuf *VisionIpcServer::claim_buffer(VisionStreamType type, size_t idx) {
  Stream &s = stream(type);
  if (idx >= s.count) throw Error("claim_buffer(" + std::to_string(idx) + "): stream has " + std::to_string(s.count) + " buffers");
  if (s.claimed[idx]) return &s.bufs[idx];
  uint32_t gen;
  if (!s.control.try_claim(uint32_t(idx), &gen)) return nullptr;
  s.generation[idx] = gen;
  s.claimed[idx] = true;
  if (!s.device) s.bufs[idx].sync_start(true);
  return &s.bufs[idx];
}

void VisionIpcServer::count_dropped(VisionStreamType type, uint64_t n) {
  stream(type).dropped.fetch_add(n, std::memory_order_relaxed);
}

void VisionIpcServer::send(VisionBuf *buf, const VisionIpcBufExtra *extra) {
  if (!buf) throw Error("send(nullptr): get_buffer() returned no buffer, the frame was dropped");
  Stream &s = stream(buf->type);
  if (buf->idx >= s.count || buf != &s.bufs[buf->idx]) {
    throw Error("send(): buffer does not belong to stream " + visionipc::stream_name(buf->type) + " of server '" + name_ + "'");
  }
  // Clients may hold a buffer once it is announced: announcing it again without
  // a fresh get_buffer() would hand out memory the producer may be writing.
  if (!s.claimed[buf->idx]) {
    throw Error("send(): buffer " + std::to_string(buf->idx) + " of stream " + visionipc::stream_name(buf->type) +
                " was not obtained from get_buffer() since it was last sent");
  }
  s.claimed[buf->idx] = false;
  if (!s.device) buf->sync_end(true);
  VisionIpcBufExtra e = extra ? *extra : VisionIpcBufExtra{};
  visionipc::Announcement a = {};
  a.magic = visionipc::kAnnouncementMagic;
  a.buffer_idx = uint32_t(buf->idx);
  a.server_id = server_id_;
  a.generation = s.generation[buf->idx];
  a.frame_id = e.frame_id;
  a.seq = s.sent.load(std::memory_order_relaxed);
  a.timestamp_sof = e.timestamp_sof;
  a.timestamp_eof = e.timestamp_eof;
  a.valid = e.valid;
  a.send_time_ns = conduit::mono_ns();
  s.pub->send(&a, sizeof(a));
  s.sent.fetch_add(1, std::memory_order_release);
}

bool VisionIpcServer::wait_lockstep(VisionStreamType type, int timeout_ms) {
  return stream(type).pub->wait_lockstep(timeout_ms);
}

uint64_t VisionIpcServer::frames_sent(VisionStreamType type) const { return stream(type).sent.load(); }
uint64_t VisionIpcServer::dropped_frames(VisionStreamType type) const { return stream(type).dropped.load(); }

int VisionIpcServer::num_clients(VisionStreamType type) const {
  Stream &s = stream(type);
  std::lock_guard<std::mutex> lk(slots_mutex_);
  return __builtin_popcount(s.used_slots);
}

uint32_t VisionIpcServer::holders(VisionStreamType type, size_t idx) const {
  Stream &s = stream(type);
  if (idx >= s.count) throw Error("buffer index " + std::to_string(idx) + " out of range 0.." + std::to_string(s.count - 1));
  return s.control.holders(uint32_t(idx));
}

void VisionIpcServer::listener_loop() {
  std::vector<pollfd> pfds;
  for (;;) {
    pfds.clear();
    pfds.push_back({stop_fd_.get(), POLLIN, 0});
    pfds.push_back({listen_fd_.get(), POLLIN, 0});
    pfds.push_back({wake_fd_.get(), POLLIN, 0});
    uint64_t now = conduit::mono_ns(), next_deadline = UINT64_MAX;
    for (Connection &c : connections_) {
      pfds.push_back({c.fd.get(), POLLIN, 0});
      if (c.stream < 0) next_deadline = std::min(next_deadline, c.deadline_ns);
    }
    int timeout = next_deadline == UINT64_MAX ? -1 : int((next_deadline > now ? next_deadline - now : 0) / 1000000 + 1);
    if (poll(pfds.data(), pfds.size(), timeout) < 0 && errno != EINTR) {
      perror("visionipc: listener poll");
      continue;
    }
    if (pfds[0].revents) return;
    if (pfds[2].revents) {
      uint64_t n;
      if (read(wake_fd_.get(), &n, sizeof(n)) < 0) {
        // Nothing to read: another wake-up consumed it.
      }
    }
    // Walk the connections that were polled; accepting afterwards keeps indices aligned.
    now = conduit::mono_ns();
    std::vector<bool> done(connections_.size(), false);
    for (size_t i = 0; i < connections_.size(); i++) {
      Connection &c = connections_[i];
      short ev = pfds[i + 3].revents;
      if (c.stream >= 0) {
        // An attached client sends nothing more: any event means it closed
        // (or broke the protocol). Either way its holds are dropped now.
        done[i] = ev != 0;
        if (streams_[c.stream]->over_budget.fetch_and(~(1u << c.slot)) & (1u << c.slot)) {
          refuse(c, "client (pid " + std::to_string(c.pid) + ") held more than " +
                        std::to_string(visionipc::kMaxHoldsPerClient) + " buffers of stream " +
                        visionipc::stream_name(VisionStreamType(c.stream)) + " at once: disconnected, its holds ignored");
          done[i] = true;
        }
      } else if (ev) {
        done[i] = !handle_request(c);
      } else if (now >= c.deadline_ns) {
        refuse(c, "no request within " + std::to_string(kHandshakeTimeoutNs / 1000000) + " ms of connecting");
        done[i] = true;
      }
    }
    for (size_t i = connections_.size(); i-- > 0;) {
      if (done[i]) {
        close_connection(connections_[i]);
        connections_.erase(connections_.begin() + i);
      }
    }
    if (pfds[1].revents) {
      // At most as many as there are handshake places, then the requests that
      // arrived meanwhile are answered: a flood reconnecting as fast as it is
      // refused cannot keep the listener accepting, and a connection accepted
      // this round is never the oldest of a full set (evicted) before its turn.
      for (int n = 0; n < visionipc::kMaxPendingConnections && accept_client(); n++) {
      }
    }
  }
}

bool VisionIpcServer::accept_client() {
  UniqueFd fd(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd.valid()) return errno == EINTR || errno == ECONNABORTED;
  Connection c;
  c.fd = std::move(fd);
  c.deadline_ns = conduit::mono_ns() + kHandshakeTimeoutNs;
  ucred cred = {};
  socklen_t len = sizeof(cred);
  if (getsockopt(c.fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    c.refuse_reason = std::string("SO_PEERCRED failed: ") + strerror(errno);
  } else if (cred.uid != geteuid()) {
    c.refuse_reason = "peer uid " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) +
                      ") is not allowed: expected uid " + std::to_string(geteuid());
  }
  c.pid = cred.pid;
  // Idle connections cost a peer process only its own share: over it, it is
  // refused; when all places are taken, a peer with fewer waiting takes the
  // place of the oldest connection of a peer with the most.
  std::map<pid_t, int> waiting;
  for (const Connection &o : connections_) waiting[o.pid] += o.stream < 0;
  int mine = waiting[c.pid], pending = 0, most = 0;
  for (const auto &[pid, n] : waiting) {
    pending += n;
    most = std::max(most, n);
  }
  if (mine >= visionipc::kMaxPendingPerPeer) {
    refuse(c, "pid " + std::to_string(c.pid) + " already has " + std::to_string(mine) +
                  " connections waiting for their handshake");
    return true;
  }
  if (pending >= visionipc::kMaxPendingConnections) {
    if (most <= mine) {
      refuse(c, "all " + std::to_string(pending) + " handshake places are taken, none by a peer with more than this one");
      return true;
    }
    auto oldest = connections_.end();
    for (auto it = connections_.begin(); it != connections_.end(); ++it) {
      if (it->stream < 0 && waiting[it->pid] == most && (oldest == connections_.end() || it->deadline_ns < oldest->deadline_ns)) oldest = it;
    }
    refuse(*oldest, "dropped: all handshake places are taken and pid " + std::to_string(oldest->pid) +
                        " holds the most of them");
    connections_.erase(oldest);
  }
  connections_.push_back(std::move(c));
  return true;
}

void VisionIpcServer::refuse(Connection &c, const std::string &why) {
  refused_.fetch_add(1);
  // At most one line a second, so a flood of refusals cannot flood the log.
  uint64_t now = conduit::mono_ns();
  if (now - last_refusal_log_ns_ >= 1'000'000'000ull) {
    std::string unlogged = unlogged_refusals_ ? " (" + std::to_string(unlogged_refusals_) + " refusals not logged before it)" : "";
    fprintf(stderr, "visionipc server '%s': refused a client: %s%s\n", name_.c_str(), why.c_str(), unlogged.c_str());
    last_refusal_log_ns_ = now;
    unlogged_refusals_ = 0;
  } else {
    unlogged_refusals_++;
  }
  visionipc::Reply r = {};
  r.magic = visionipc::kHandshakeMagic;
  r.version = visionipc::kHandshakeVersion;
  r.status = -1;
  snprintf(r.error, sizeof(r.error), "%s", why.c_str());
  try {
    visionipc::send_packet(c.fd.get(), &r, sizeof(r));
  } catch (const Error &) {
    // The peer is gone already; nobody is left to tell.
  }
}

bool VisionIpcServer::handle_request(Connection &c) {
  visionipc::Request req = {};
  try {
    if (!visionipc::recv_packet(c.fd.get(), &req, sizeof(req), nullptr, 0)) return false;  // closed mid-handshake
  } catch (const Error &e) {
    refuse(c, c.refuse_reason.empty() ? e.what() : c.refuse_reason);
    return false;
  }
  if (!c.refuse_reason.empty()) {
    refuse(c, c.refuse_reason);
    return false;
  }
  if (req.magic != visionipc::kHandshakeMagic || req.version != visionipc::kHandshakeVersion) {
    refuse(c, "bad request header: expected magic " + std::to_string(visionipc::kHandshakeMagic) + " version " +
                  std::to_string(visionipc::kHandshakeVersion) + ", found " + std::to_string(req.magic) + " version " +
                  std::to_string(req.version));
    return false;
  }
  visionipc::Reply r = {};
  r.magic = visionipc::kHandshakeMagic;
  r.version = visionipc::kHandshakeVersion;
  r.server_id = server_id_;
  for (int t = 0; t < VISION_STREAM_MAX; t++) {
    if (streams_[t]) r.streams[r.num_streams++] = t;
  }
  if (req.kind == uint32_t(visionipc::RequestKind::kListStreams)) {
    try {
      visionipc::send_packet(c.fd.get(), &r, sizeof(r));
    } catch (const Error &) {
    }
    return false;
  }
  if (req.kind != uint32_t(visionipc::RequestKind::kConnect)) {
    refuse(c, "unknown request kind " + std::to_string(req.kind) + ": expected 1 (connect) or 2 (list streams)");
    return false;
  }
  if (req.stream < 0 || req.stream >= VISION_STREAM_MAX || !streams_[req.stream]) {
    std::string offered;
    for (uint32_t i = 0; i < r.num_streams; i++) offered += (i ? ", " : "") + visionipc::stream_name(VisionStreamType(r.streams[i]));
    refuse(c, "unknown stream " + std::to_string(req.stream) + ": server '" + name_ + "' offers " + offered);
    return false;
  }
  Stream &s = *streams_[req.stream];
  int slot = -1;
  {
    std::lock_guard<std::mutex> lk(slots_mutex_);
    for (int i = 0; i < visionipc::kMaxClientsPerStream; i++) {
      if (!(s.used_slots & (1u << i))) {
        slot = i;
        s.used_slots |= 1u << i;
        break;
      }
    }
  }
  if (slot < 0) {
    refuse(c, "all " + std::to_string(visionipc::kMaxClientsPerStream) + " client slots of stream " +
                  visionipc::stream_name(s.type) + " are in use");
    return false;
  }
  UniqueFd holds;
  try {
    holds = s.control.open_slot(slot);
  } catch (const Error &e) {
    std::lock_guard<std::mutex> lk(slots_mutex_);
    s.used_slots &= ~(1u << slot);
    refuse(c, e.what());
    return false;
  }
  c.stream = req.stream;
  c.slot = slot;
  r.slot = slot;
  r.memory_kind = uint32_t(s.bufs[0].memory_kind);
  r.next_seq = s.sent.load(std::memory_order_acquire);
  r.num_buffers = uint32_t(s.count);
  const conduit::Yuv420Layout &f = s.layout.frame;
  r.width = uint32_t(f.width);
  r.height = uint32_t(f.height);
  r.stride = uint32_t(f.stride);
  r.uv_stride = uint32_t(f.uv_stride);
  r.uv_step = uint32_t(f.uv_step);
  r.u_offset = f.u_offset;
  r.v_offset = f.v_offset;
  r.len = s.layout.len;
  std::vector<int> fds = {s.control.fd(), holds.get()};
  for (size_t i = 0; i < s.count; i++) fds.push_back(s.bufs[i].fd);
  try {
    visionipc::send_packet(c.fd.get(), &r, sizeof(r), fds);
  } catch (const Error &) {
    return false;  // gone mid-handshake; close_connection() frees the slot
  }
  return true;
}

void VisionIpcServer::close_connection(Connection &c) {
  if (c.stream < 0) return;
  Stream &s = *streams_[c.stream];
  // Holds first, then the slot: a new client must never inherit stale holds.
  s.control.close_slot(c.slot);
  s.over_budget.fetch_and(~(1u << c.slot));
  std::lock_guard<std::mutex> lk(slots_mutex_);
  s.used_slots &= ~(1u << c.slot);
  c.stream = -1;
}
