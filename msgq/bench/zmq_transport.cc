// libzmq PUB/SUB, the transport openpilot's msgq replaces on the desktop. The
// publisher binds, the subscriber connects. zmq_msg_recv keeps the payload in
// zmq's own buffer (no extra copy on receive), as a careful user would.
// High-water marks bound buffering to about as many bytes as the other
// transports hold, so 1 MiB messages cannot queue a gigabyte.
#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/prefix.h"
#include "msgq/bench/shared_region.h"
#include "msgq/bench/transports.h"

namespace msgq_bench {
namespace {

void check(int rc, const char *what) {
  if (rc != 0) throw std::runtime_error(std::string("zmq: ") + what + ": " + zmq_strerror(zmq_errno()));
}

class Zmq : public Transport {
 public:
  Zmq(const TransportConfig &cfg, bool tcp) : cfg_(cfg), tcp_(tcp), buf_(cfg.size, 'z') {
    ctx_ = zmq_ctx_new();
    int hwm = int(std::clamp<size_t>((16u << 20) / cfg.size, 16, 1000));
    if (cfg.pub_channel != kNoChannel) {
      pub_ = zmq_socket(ctx_, ZMQ_PUB);
      check(zmq_setsockopt(pub_, ZMQ_SNDHWM, &hwm, sizeof(hwm)), "ZMQ_SNDHWM");
      check(zmq_bind(pub_, bind_address(cfg.pub_channel).c_str()), "bind");
      if (tcp_) publish_port(cfg.pub_channel);
    }
    if (cfg.sub_channel != kNoChannel) {
      sub_ = zmq_socket(ctx_, ZMQ_SUB);
      check(zmq_setsockopt(sub_, ZMQ_RCVHWM, &hwm, sizeof(hwm)), "ZMQ_RCVHWM");
      check(zmq_setsockopt(sub_, ZMQ_SUBSCRIBE, "", 0), "ZMQ_SUBSCRIBE");
      check(zmq_connect(sub_, connect_address(cfg.sub_channel).c_str()), "connect");
    }
    zmq_msg_init(&msg_);
  }

  ~Zmq() override {
    zmq_msg_close(&msg_);
    int linger = 0;
    for (void *s : {pub_, sub_}) {
      if (s) {
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(s);
      }
    }
    zmq_ctx_term(ctx_);
  }

  void send(uint64_t seq) override {
    memcpy(buf_.data(), &seq, sizeof(seq));
    if (zmq_send(pub_, buf_.data(), buf_.size(), 0) < 0) check(-1, "send");
  }

  bool receive(uint64_t &seq, int timeout_ms) override {
    if (timeout_ms != 0 && timeout_ms != rcvtimeo_) {
      check(zmq_setsockopt(sub_, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms)), "ZMQ_RCVTIMEO");
      rcvtimeo_ = timeout_ms;
    }
    if (zmq_msg_recv(&msg_, sub_, timeout_ms == 0 ? ZMQ_DONTWAIT : 0) < 0) {
      if (zmq_errno() == EAGAIN) return false;
      check(-1, "recv");
    }
    seq = read_seq(tcp_ ? "zmq_tcp" : "zmq_ipc", zmq_msg_data(&msg_), zmq_msg_size(&msg_), cfg_.size);
    return true;
  }

 private:
  std::string ipc_address(int channel) {
    return "ipc://" + conduit::socket_path(cfg_.tag + "_zmq" + std::to_string(channel));
  }
  std::string bind_address(int channel) { return tcp_ ? "tcp://127.0.0.1:*" : ipc_address(channel); }

  void publish_port(int channel) {
    char endpoint[256];
    size_t len = sizeof(endpoint);
    check(zmq_getsockopt(pub_, ZMQ_LAST_ENDPOINT, endpoint, &len), "ZMQ_LAST_ENDPOINT");
    const char *colon = strrchr(endpoint, ':');
    cfg_.shared->tcp_port[channel].store(colon ? atoi(colon + 1) : 0);
  }

  // The peer process binds; wait (bounded) until it says which port it got.
  std::string connect_address(int channel) {
    if (!tcp_) return ipc_address(channel);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int port;
    while ((port = cfg_.shared->tcp_port[channel].load()) == 0) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("zmq_tcp: peer never bound its port");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return "tcp://127.0.0.1:" + std::to_string(port);
  }

  TransportConfig cfg_;
  bool tcp_;
  std::vector<char> buf_;
  void *ctx_ = nullptr, *pub_ = nullptr, *sub_ = nullptr;
  zmq_msg_t msg_;
  int rcvtimeo_ = -1;
};

}  // namespace

std::unique_ptr<Transport> make_zmq_ipc(const TransportConfig &cfg) { return std::make_unique<Zmq>(cfg, false); }
std::unique_ptr<Transport> make_zmq_tcp(const TransportConfig &cfg) { return std::make_unique<Zmq>(cfg, true); }

}  // namespace msgq_bench
