#pragma once
// The libzmq backend of msgq.h (ZMQ=1): PUB binds, SUB connects, over a unix
// socket (ipc://<shm_dir>/<topic>.zmq, owner-only by the prefix directory's
// 0700) by default, or loopback tcp with CONDUIT_ZMQ_TRANSPORT=tcp (port hashed
// from prefix and topic; may meet an ephemeral port). Each message is one frame:
// the link's tag, an 8-byte sequence number, then the payload, so lost() is
// exact here too. The bridge (msgq/remote.h) uses the same sockets across hosts.
#include <zmq.h>

#include <string>
#include <vector>

#include "msgq/msgq.h"

namespace msgq {

std::string zmq_endpoint(const std::string &topic);
// This process's libzmq context (a forked child gets its own).
void *zmq_context();

// Where a zmq socket meets its peers and what its frames carry.
struct ZmqLink {
  std::string endpoint;    // the publisher binds it, subscribers connect to it
  std::string tag;         // bytes before the sequence number, a multiple of 8 (the payload stays aligned);
                           // a subscriber takes only frames with its tag
  std::string curve_key;   // Z85 CURVE secret both ends share (the publisher is the server); empty: plaintext
  bool remote = false;     // across a network: bounded send queue, heartbeats, received size limited to the ring's
  std::string monitor;     // a subscriber's inproc:// endpoint for zmq_socket_monitor events, set before it connects
};

// The ZMQ=1 backend's link of `topic`: zmq_endpoint(topic), untagged, plaintext.
ZmqLink zmq_local_link(const std::string &topic);

class ZmqPubSocket final : public PubSocket {
 public:
  ZmqPubSocket(const std::string &topic, size_t ring_size) : ZmqPubSocket(topic, ring_size, zmq_local_link(topic)) {}
  ZmqPubSocket(const std::string &topic, size_t ring_size, const ZmqLink &link);
  ~ZmqPubSocket() override;
  void send(const void *data, size_t size) override;
  // Sends with the given sequence number (a relay keeps its source's); the next send() continues after it.
  void send(const void *data, size_t size, uint64_t seq) {
    seq_ = seq;
    send(data, size);
  }
  // A loan is the frame buffer after the sequence number: commit() sends it as is.
  void *loan(size_t size) override;
  void commit(size_t size) override;
  void cancel_loan() override { on_loan_ = false; }
  bool on_loan() const override { return on_loan_; }
  const std::string &topic() const override { return topic_; }
  int subscriber_count() const override { return -1; }

 private:
  char *frame(size_t size);  // the frame buffer, room for `size` payload bytes
  void send_frame(size_t size);

  std::string topic_;
  size_t max_size_;
  size_t tag_words_;
  void *sock_;
  int lock_fd_ = -1;  // ipc: the topic's publisher lock
  uint64_t seq_ = 0;
  std::vector<uint64_t> buf_;  // tag, sequence number, then payload
  bool on_loan_ = false;
  size_t loan_size_ = 0;
};

class ZmqSubSocket final : public SubSocket {
 public:
  ZmqSubSocket(const std::string &topic, SubOptions opts) : ZmqSubSocket(topic, opts, zmq_local_link(topic)) {}
  ZmqSubSocket(const std::string &topic, SubOptions opts, const ZmqLink &link);
  ~ZmqSubSocket() override;
  bool receive(Message &msg, int timeout_ms) override;
  uint64_t lost() const override { return lost_; }
  uint64_t malformed() const override { return malformed_; }
  const std::string &topic() const override { return topic_; }
  void *zmq_socket() const { return sock_; }
  // Takes over a stream that an earlier subscriber (a relay since restarted)
  // received up to next_seq - 1: the messages before the next one to arrive
  // count in lost(), from there, as if this socket had missed them.
  void resume_from(uint64_t next_seq) {
    have_seq_ = true;
    next_seq_ = next_seq;
  }

 private:
  void skip_malformed(size_t size);

  std::string topic_;
  std::string tag_;
  std::string endpoint_;
  void *sock_;
  uint64_t lost_ = 0;
  uint64_t malformed_ = 0;
  bool more_parts_ = false;  // the last frame said more parts follow
  bool have_seq_ = false;
  uint64_t next_seq_ = 0;
};

class ZmqPoller final : public Poller {
 public:
  void add(SubSocket &sock) override;
  const std::vector<SubSocket *> &poll(int timeout_ms) override;

 private:
  std::vector<ZmqSubSocket *> sockets_;
  std::vector<zmq_pollitem_t> items_;  // sockets_[i]'s poll entry
  std::vector<SubSocket *> ready_;
};

}  // namespace msgq
