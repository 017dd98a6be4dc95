// iceoryx 2.x through its untyped C++ API, used the zero-copy way it is meant
// to be: the publisher loans a chunk, writes the sequence number into it and
// publishes; the subscriber reads the chunk in place and releases it. No
// payload copy on either side. Blocking receive waits on a WaitSet attached
// to the subscriber's HAS_DATA state. RouDi must be running (msgq.py starts it).
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "msgq/bench/transports.h"

namespace msgq_bench {
namespace {

iox::capro::IdString_t id(const std::string &s) { return iox::capro::IdString_t(iox::cxx::TruncateToCapacity, s.c_str()); }

iox::capro::ServiceDescription service(const TransportConfig &cfg, int channel) {
  return {id("conduit_bench"), id(cfg.tag), id("ch" + std::to_string(channel))};
}

// One runtime per process, named uniquely so parallel runs never collide.
void init_runtime_once(const TransportConfig &cfg) {
  static bool done = false;
  if (done) return;
  std::string name = cfg.tag + "_" + std::to_string(getpid());
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
  done = true;
}

class Iceoryx : public Transport {
 public:
  explicit Iceoryx(const TransportConfig &cfg) : size_(cfg.size) {
    init_runtime_once(cfg);
    if (cfg.pub_channel != kNoChannel) {
      iox::popo::PublisherOptions opts;
      opts.historyCapacity = 0;
      pub_ = std::make_unique<iox::popo::UntypedPublisher>(service(cfg, cfg.pub_channel), opts);
    }
    if (cfg.sub_channel != kNoChannel) {
      iox::popo::SubscriberOptions opts;
      // Bounded buffering, as zmq's high-water mark: about 16 MiB, 16..256 messages.
      opts.queueCapacity = std::clamp<uint64_t>((16u << 20) / cfg.size, 16, iox::MAX_SUBSCRIBER_QUEUE_CAPACITY);
      opts.historyRequest = 0;
      sub_ = std::make_unique<iox::popo::UntypedSubscriber>(service(cfg, cfg.sub_channel), opts);
      waitset_ = std::make_unique<iox::popo::WaitSet<>>();
      if (waitset_->attachState(*sub_, iox::popo::SubscriberState::HAS_DATA).has_error()) {
        throw std::runtime_error("iceoryx: cannot attach the subscriber to a WaitSet");
      }
    }
  }

  ~Iceoryx() override {
    if (waitset_) waitset_->detachState(*sub_, iox::popo::SubscriberState::HAS_DATA);
  }

  void send(uint64_t seq) override {
    auto loaned = pub_->loan(uint32_t(size_));
    if (loaned.has_error()) {
      throw std::runtime_error("iceoryx: loan of " + std::to_string(size_) +
                               " bytes failed (mempool too small or exhausted; see the RouDi config)");
    }
    void *chunk = loaned.value();
    *static_cast<uint64_t *>(chunk) = seq;
    pub_->publish(chunk);
  }

  bool receive(uint64_t &seq, int timeout_ms) override {
    if (take(seq)) return true;
    if (timeout_ms == 0) return false;
    if (timeout_ms < 0) {
      waitset_->wait();
    } else {
      waitset_->timedWait(iox::units::Duration::fromMilliseconds(timeout_ms));
    }
    return take(seq);
  }

 private:
  bool take(uint64_t &seq) {
    auto taken = sub_->take();
    if (taken.has_error()) {
      if (taken.get_error() == iox::popo::ChunkReceiveResult::NO_CHUNK_AVAILABLE) return false;
      throw std::runtime_error("iceoryx: take failed: too many chunks held");
    }
    const void *chunk = taken.value();
    uint32_t got = iox::mepoo::ChunkHeader::fromUserPayload(chunk)->userPayloadSize();
    try {
      seq = read_seq("iceoryx", chunk, got, size_);
    } catch (...) {
      sub_->release(chunk);
      throw;
    }
    sub_->release(chunk);
    return true;
  }

  size_t size_;
  std::unique_ptr<iox::popo::UntypedPublisher> pub_;
  std::unique_ptr<iox::popo::UntypedSubscriber> sub_;
  std::unique_ptr<iox::popo::WaitSet<>> waitset_;
};

}  // namespace

std::unique_ptr<Transport> make_iceoryx(const TransportConfig &cfg) { return std::make_unique<Iceoryx>(cfg); }

}  // namespace msgq_bench
