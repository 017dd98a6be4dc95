// conduit msgq through its public API only (msgq/msgq.h). msgq: the publisher
// copies the message into the topic's ring, the subscriber copies it out into
// a reused msgq::Message. msgq_loan: the publisher writes the sequence number
// into a loan in the ring and commits it, the subscriber reads it from a view
// and checks intact() (iceoryx's transport does the same with its chunks). The ring is the default topic size (1 MiB) or, for
// big messages, the power of two that holds 4 of them: rings much larger than
// that only add cache misses to ping-pong (two 16 MiB rings for 1 MiB messages
// doubled the latency here, as they overflow the shared L3).
#include <cstring>
#include <vector>

#include "msgq/bench/transports.h"
#include "msgq/msgq.h"

namespace msgq_bench {
namespace {

size_t ring_size_for(size_t size) {
  size_t ring = msgq::kDefaultRingSize;
  while (ring < 4 * size || msgq::max_message_size(ring) < size) ring *= 2;
  return ring;
}

class Msgq : public Transport {
 public:
  explicit Msgq(const TransportConfig &cfg) : size_(cfg.size), buf_(cfg.size, 'm') {
    size_t ring = ring_size_for(cfg.size);
    if (cfg.pub_channel != kNoChannel) pub_ = msgq::PubSocket::create(topic(cfg, cfg.pub_channel), ring);
    if (cfg.sub_channel != kNoChannel) {
      sub_ = msgq::SubSocket::create(topic(cfg, cfg.sub_channel), {.conflate = false, .ring_size = ring});
    }
  }

  void send(uint64_t seq) override {
    memcpy(buf_.data(), &seq, sizeof(seq));
    pub_->send(buf_.data(), size_);
  }

  bool receive(uint64_t &seq, int timeout_ms) override {
    if (!sub_->receive(msg_, timeout_ms)) return false;
    seq = read_seq("msgq", msg_.data(), msg_.size(), size_);
    return true;
  }

  bool reports_lost() const override { return true; }
  uint64_t lost() const override { return sub_->lost(); }

 protected:
  static std::string topic(const TransportConfig &cfg, int channel) {
    return cfg.tag + "_ch" + std::to_string(channel);
  }

  size_t size_;
  std::vector<char> buf_;
  std::unique_ptr<msgq::PubSocket> pub_;
  std::unique_ptr<msgq::SubSocket> sub_;
  msgq::Message msg_;
};

class MsgqLoan : public Msgq {
 public:
  using Msgq::Msgq;

  void send(uint64_t seq) override {
    void *p = pub_->loan(size_);
    memcpy(p, &seq, sizeof(seq));
    pub_->commit(size_);
  }

  // A view overwritten before it was checked counts in lost(): take the next.
  bool receive(uint64_t &seq, int timeout_ms) override {
    while (sub_->receive_view(view_, timeout_ms)) {
      seq = read_seq("msgq_loan", view_.data(), view_.size(), size_);
      if (view_.intact()) return true;
    }
    return false;
  }

 private:
  msgq::MessageView view_;
};

}  // namespace

std::unique_ptr<Transport> make_msgq(const TransportConfig &cfg) { return std::make_unique<Msgq>(cfg); }
std::unique_ptr<Transport> make_msgq_loan(const TransportConfig &cfg) { return std::make_unique<MsgqLoan>(cfg); }

}  // namespace msgq_bench
