#include "msgq/zmq_socket.h"

#include <zmq.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "common/prefix.h"

namespace msgq {

// One context per process. A forked child gets a new one: a libzmq context
// does not survive fork (its I/O threads stay in the parent).
void *zmq_context() {
  static void *ctx = nullptr;
  static pid_t owner = 0;
  if (owner != getpid()) {
    ctx = zmq_ctx_new();
    owner = getpid();
  }
  return ctx;
}

static Error zmq_error(const std::string &what, const std::string &topic) {
  return Error("msgq (zmq) topic '" + topic + "': " + what + ": " + zmq_strerror(zmq_errno()));
}

std::string zmq_endpoint(const std::string &topic) {
  try {
    conduit::check_name(topic, "msgq topic");
  } catch (const std::invalid_argument &e) {
    throw Error(e.what());
  }
  // A unix socket in the prefix's private directory by default: owner-only by
  // the directory's mode, isolated by the prefix, and no port that a kernel
  // ephemeral port (or the bridge's range) can take first.
  const char *env = getenv("CONDUIT_ZMQ_TRANSPORT");
  const std::string transport = env ? env : "ipc";
  if (transport == "ipc") return "ipc://" + conduit::shm_path(topic + ".zmq");
  if (transport != "tcp") throw Error("CONDUIT_ZMQ_TRANSPORT is '" + transport + "': expected ipc (the default) or tcp");
  // tcp, by request: FNV-1a of "<prefix>/<topic>" into 20000-52767, stable
  // across processes. It overlaps Linux's default ephemeral range, so a bind
  // may find its port taken by some connection.
  uint32_t h = 2166136261u;
  for (char c : conduit::prefix() + "/" + topic) h = (h ^ uint8_t(c)) * 16777619u;
  int port = 20000 + int(h % 32768);
  return "tcp://127.0.0.1:" + std::to_string(port);
}

ZmqLink zmq_local_link(const std::string &topic) {
  ZmqLink link;
  link.endpoint = zmq_endpoint(topic);
  return link;
}

// Queue bound of a remote link: a stalled peer costs at most this many
// messages per topic, dropped by libzmq and counted by the receiver's lost().
constexpr int kRemoteQueue = 2000;
// A peer silent for this long (heartbeats included) is dropped and reconnected.
constexpr int kHeartbeatMs = 1000, kHeartbeatTimeoutMs = 5000;

static void set_int(void *sock, int option, int value) { zmq_setsockopt(sock, option, &value, sizeof(value)); }

// The options both ends of a link share; false for a bad CURVE key.
static bool configure(void *sock, const ZmqLink &link, bool server) {
  set_int(sock, server ? ZMQ_SNDHWM : ZMQ_RCVHWM, link.remote ? kRemoteQueue : 0);
  if (link.remote) {
    set_int(sock, ZMQ_HEARTBEAT_IVL, kHeartbeatMs);
    set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, kHeartbeatTimeoutMs);
  }
  if (link.curve_key.empty()) return true;
  // One secret makes both keypairs: a peer that holds another secret cannot
  // name this server's public key, so the handshake fails.
  char pub[41];
  if (link.curve_key.size() != 40 || zmq_curve_public(pub, link.curve_key.c_str()) != 0) return false;
  if (server) {
    set_int(sock, ZMQ_CURVE_SERVER, 1);
    return zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, link.curve_key.c_str(), 40) == 0;
  }
  return zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, pub, 40) == 0 &&
         zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) == 0 &&
         zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, link.curve_key.c_str(), 40) == 0;
}

// An ipc:// publisher holds an flock on "<socket>.lock" while it lives (the
// kernel drops it when the holder dies): libzmq unlinks a socket file before
// binding its own, so a second publisher's bind would succeed and take the
// topic's new subscribers. Returns the lock's fd, or -1 for other transports.
static int claim_ipc_topic(const std::string &ep, const std::string &topic) {
  if (ep.rfind("ipc://", 0) != 0) return -1;
  const std::string lock = ep.substr(6) + ".lock";
  int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw Error("msgq (zmq) topic '" + topic + "': cannot open " + lock + ": " + strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    throw MultiplePublishersError("msgq (zmq) topic '" + topic + "' already has a publisher (" + lock + " is locked)");
  }
  return fd;
}

ZmqPubSocket::ZmqPubSocket(const std::string &topic, size_t ring_size, const ZmqLink &link)
    : topic_(topic), max_size_(max_message_size(ring_size)), tag_words_(link.tag.size() / 8) {
  if (link.tag.size() % 8 != 0) throw Error("msgq (zmq) topic '" + topic + "': the link's tag is not a multiple of 8 bytes");
  buf_.resize(tag_words_ + 1);
  memcpy(buf_.data(), link.tag.data(), link.tag.size());
  const std::string &ep = link.endpoint;
  lock_fd_ = claim_ipc_topic(ep, topic);  // before the socket: a refused publisher leaves nothing open
  sock_ = zmq_socket(zmq_context(), ZMQ_PUB);
  if (!configure(sock_, link, true)) {
    zmq_close(sock_);
    if (lock_fd_ >= 0) close(lock_fd_);
    throw Error("msgq (zmq) topic '" + topic + "': bad CURVE key (expected 40 Z85 characters of a secret key)");
  }
  // A publisher closed a moment ago may still hold the port (libzmq closes
  // asynchronously): retry briefly before calling it a second publisher.
  int rc;
  for (int attempt = 0; (rc = zmq_bind(sock_, ep.c_str())) != 0 && zmq_errno() == EADDRINUSE && attempt < 40; attempt++) {
    usleep(5000);
  }
  if (rc != 0) {
    const bool in_use = zmq_errno() == EADDRINUSE;
    Error e = in_use ? Error("") : zmq_error("cannot bind " + ep, topic);
    zmq_close(sock_);
    if (lock_fd_ >= 0) close(lock_fd_);
    if (in_use) throw MultiplePublishersError("msgq (zmq) topic '" + topic + "' already has a publisher (" + ep + " in use)");
    throw e;
  }
}

ZmqPubSocket::~ZmqPubSocket() {
  int linger = 0;
  zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_close(sock_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

char *ZmqPubSocket::frame(size_t size) {
  if (size > max_size_) {
    throw Error("msgq topic '" + topic_ + "': message of " + std::to_string(size) +
                " bytes exceeds the largest this topic allows (" + std::to_string(max_size_) + ")");
  }
  if (on_loan_) throw Error("msgq topic '" + topic_ + "': a loan is out; commit() or cancel_loan() it first");
  buf_.resize(tag_words_ + 1 + (size + 7) / 8);
  return reinterpret_cast<char *>(buf_.data() + tag_words_ + 1);
}

void ZmqPubSocket::send_frame(size_t size) {
  buf_[tag_words_] = seq_;
  if (zmq_send(sock_, buf_.data(), 8 * (tag_words_ + 1) + size, ZMQ_DONTWAIT) < 0 && zmq_errno() != EAGAIN) {
    throw zmq_error("send failed", topic_);
  }
  seq_++;
}

void ZmqPubSocket::send(const void *data, size_t size) {
  char *payload = frame(size);
  if (size) memcpy(payload, data, size);  // an empty message may come as (nullptr, 0)
  send_frame(size);
}

void *ZmqPubSocket::loan(size_t size) {
  void *p = frame(size);
  loan_size_ = size;
  on_loan_ = true;
  return p;
}

void ZmqPubSocket::commit(size_t size) {
  if (!on_loan_) throw Error("msgq topic '" + topic_ + "': commit() without a loan");
  if (size > loan_size_) {
    throw Error("msgq topic '" + topic_ + "': commit() of " + std::to_string(size) + " bytes exceeds the loan of " +
                std::to_string(loan_size_));
  }
  on_loan_ = false;
  send_frame(size);
}

ZmqSubSocket::ZmqSubSocket(const std::string &topic, SubOptions opts, const ZmqLink &link)
    : topic_(topic), tag_(link.tag), endpoint_(link.endpoint) {
  const std::string &ep = link.endpoint;
  sock_ = ::zmq_socket(zmq_context(), ZMQ_SUB);
  if (opts.conflate) set_int(sock_, ZMQ_CONFLATE, 1);
  if (link.remote) {
    int64_t limit = int64_t(tag_.size() + 8 + max_message_size(opts.ring_size));
    zmq_setsockopt(sock_, ZMQ_MAXMSGSIZE, &limit, sizeof(limit));
  }
  bool ok = configure(sock_, link, false);
  zmq_setsockopt(sock_, ZMQ_SUBSCRIBE, tag_.data(), tag_.size());
  if (ok && !link.monitor.empty()) ok = zmq_socket_monitor(sock_, link.monitor.c_str(), ZMQ_EVENT_ALL) == 0;
  if (!ok || zmq_connect(sock_, ep.c_str()) != 0) {
    Error e = zmq_error(ok ? "cannot connect " + ep : "bad CURVE key or monitor endpoint", topic);
    zmq_close(sock_);
    throw e;
  }
}

ZmqSubSocket::~ZmqSubSocket() {
  int linger = 0;
  zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_close(sock_);
}

bool ZmqSubSocket::receive(Message &msg, int timeout_ms) {
  if (timeout_ms != 0) {
    zmq_pollitem_t item = {sock_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0) return false;
  }
  zmq_msg_t m;
  zmq_msg_init(&m);
  const size_t head = tag_.size() + 8;
  // A frame that is no message of ours (the rest of a multi-part message sent
  // by a broken or hostile peer, or too short) is skipped: a peer cannot make
  // its subscribers throw.
  for (;;) {
    if (zmq_msg_recv(&m, sock_, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&m);
      return false;
    }
    const bool part = zmq_msg_more(&m) || more_parts_;
    more_parts_ = zmq_msg_more(&m);
    if (!part && zmq_msg_size(&m) >= head) break;  // the subscription took only frames with our tag
    skip_malformed(zmq_msg_size(&m));
  }
  const size_t n = zmq_msg_size(&m);
  const char *in = static_cast<const char *>(zmq_msg_data(&m));
  uint64_t seq;
  memcpy(&seq, in + tag_.size(), 8);
  char *dst = msg.resize(n - head);
  if (n > head) memcpy(dst, in + head, n - head);
  zmq_msg_close(&m);
  msg.set_seq(seq);
  // A publisher restart starts again from 0: count from there.
  if (have_seq_ && seq >= next_seq_) lost_ += seq - next_seq_;
  have_seq_ = true;
  next_seq_ = seq + 1;
  return true;
}

// Counted in malformed() (SubMaster adds it to bad_messages()); the first is
// also said on stderr, once per subscriber, so a bad peer is not a mystery.
void ZmqSubSocket::skip_malformed(size_t size) {
  if (malformed_++ == 0) {
    fprintf(stderr, "msgq (zmq) topic '%s' from %s: skipped a malformed frame of %zu bytes (expected one frame of "
            "%zu bytes of tag and sequence number, then the message); such frames are counted, not delivered\n",
            topic_.c_str(), endpoint_.c_str(), size, tag_.size() + 8);
  }
}

void ZmqPoller::add(SubSocket &sock) {
  auto *s = dynamic_cast<ZmqSubSocket *>(&sock);
  if (!s) throw Error("msgq Poller: socket for '" + sock.topic() + "' is not a zmq socket");
  sockets_.push_back(s);
  items_.push_back({s->zmq_socket(), 0, ZMQ_POLLIN, 0});
}

const std::vector<SubSocket *> &ZmqPoller::poll(int timeout_ms) {
  ready_.clear();
  if (zmq_poll(items_.data(), int(items_.size()), timeout_ms) > 0) {
    for (size_t i = 0; i < items_.size(); i++) {
      if (items_[i].revents & ZMQ_POLLIN) ready_.push_back(sockets_[i]);
    }
  }
  return ready_;
}

}  // namespace msgq
