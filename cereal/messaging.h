#pragma once
// cereal messaging: Events (cereal/log.capnp) over msgq, one topic per service
// (cereal/services.py).
//
//   PubMaster pm({"can"});
//   MessageBuilder msg;
//   auto can = msg.initEvent().initCan(1);
//   can[0].setAddress(0x123);
//   pm.send("can", msg);
//
//   SubMaster sm({"can", "sensorEvents"});
//   while (true) {
//     sm.update(100);
//     if (sm.updated("can")) use(sm["can"].getCan());
//   }
//
// Ownership: each master owns its sockets. SubMaster::operator[] returns a reader
// over the bytes received, valid until the update() that replaces that service's
// message; message() returns a handle that keeps them alive as long as it is held.
// Threads: a master is used by one thread at a time.
// Errors: unknown service names throw std::invalid_argument; socket errors throw
// msgq::Error. A received message that is not a valid Event for its service
// (malformed bytes, wrong union member) is dropped and counted in bad_messages();
// it never reaches operator[].
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "cereal/gen/log.capnp.h"
#include "cereal/gen/services.h"
#include "msgq/msgq.h"

namespace cereal {

// The service row for `name`; throws std::invalid_argument naming the known services.
const Service &service(std::string_view name);

// Writes `msg` in Cap'n Proto's flat framing (segment table, then segments) into
// `out`, reusing its storage. Returns the size in bytes (a multiple of 8).
size_t serialize(capnp::MessageBuilder &msg, std::vector<uint64_t> &out);

class MessageBuilder : public capnp::MallocMessageBuilder {
 public:
  MessageBuilder() : capnp::MallocMessageBuilder(kFirstSegmentWords) {}
  // The root Event with logMonoTime = now (common/clock.h) and the given valid flag.
  Event::Builder initEvent(bool valid = true);
  kj::Array<capnp::word> toBytes() { return capnp::messageToFlatArray(*this); }
  size_t getSerializedSize() { return capnp::computeSerializedSizeInWords(*this) * sizeof(capnp::word); }

 private:
  static constexpr unsigned kFirstSegmentWords = 1024;
};

class PubMaster {
 public:
  // Publishes on each of `services`, with the ring size from the services table.
  explicit PubMaster(const std::vector<std::string> &services);
  void send(std::string_view name, MessageBuilder &msg);
  void send(std::string_view name, const void *data, size_t size);

 private:
  msgq::PubSocket &socket(std::string_view name);
  std::map<std::string, std::unique_ptr<msgq::PubSocket>, std::less<>> sockets_;
  std::vector<uint64_t> buffer_;
};

// One received Event, read in place from the bytes msgq delivered (msgq::Message
// is 8-byte aligned, so Cap'n Proto needs no copy).
struct ReceivedEvent {
  msgq::Message bytes;
  std::optional<capnp::FlatArrayMessageReader> reader;
  Event::Reader event;
};

class SubMaster {
 public:
  // Subscribes to `services`. update() waits for the services in `poll` (all of
  // them when empty); services in `ignore_alive` count as alive in allAlive().
  SubMaster(const std::vector<std::string> &services, const std::vector<std::string> &poll = {},
            const std::vector<std::string> &ignore_alive = {}, bool conflate = false);

  // Waits up to timeout_ms (0: no wait, -1: forever) for a polled service, then
  // takes at most one new message from every service. Receive times are now.
  void update(int timeout_ms);
  // Same, with every receive time of this call set to now_ns (replay, tests).
  void update(int timeout_ms, uint64_t now_ns);

  // Number of update() calls so far.
  uint64_t frame() const { return frame_; }

  // Per service; each throws std::invalid_argument for a service not subscribed.
  bool updated(std::string_view name) const { return state(name).updated; }
  // Received within the last 10 periods of its frequency (frequency 0: ever received).
  bool alive(std::string_view name) const { return state(name).alive; }
  // The last message's valid flag (false before the first message).
  bool valid(std::string_view name) const { return state(name).valid; }
  // Alive and the mean receive rate over the last second is within 0.8x..1.2x
  // of the service's frequency (always true for frequency 0).
  bool freq_ok(std::string_view name) const { return state(name).freq_ok; }
  uint64_t rcv_time(std::string_view name) const { return state(name).rcv_time; }
  uint64_t rcv_frame(std::string_view name) const { return state(name).rcv_frame; }
  uint64_t logMonoTime(std::string_view name) const { return state(name).log_mono_time; }
  // Messages received but dropped as malformed or holding another union member.
  uint64_t bad_messages(std::string_view name) const { return state(name).bad_messages; }
  // Messages the publisher overwrote before this subscriber read them.
  uint64_t lost(std::string_view name) const { return state(name).socket->lost(); }

  // An empty set means every subscribed service.
  bool allAlive(const std::vector<std::string> &names = {}) const;
  bool allValid(const std::vector<std::string> &names = {}) const;
  bool allFreqOk(const std::vector<std::string> &names = {}) const;
  bool allAliveAndValid(const std::vector<std::string> &names = {}) const;

  // The newest message of `name`; a default Event before the first one.
  Event::Reader operator[](std::string_view name) const;
  // The newest message with its storage (null before the first one).
  std::shared_ptr<const ReceivedEvent> message(std::string_view name) const { return state(name).message; }
  const std::vector<std::string> &services() const { return names_; }

 private:
  // Receive intervals of the last second, to judge a service's rate.
  struct RateWindow {
    std::vector<uint64_t> times;  // ring of receive times
    size_t next = 0, count = 0;
    void add(uint64_t t);
    double mean_hz() const;       // 0 with fewer than two samples
  };
  struct State {
    std::string name;
    const Service *service = nullptr;
    std::unique_ptr<msgq::SubSocket> socket;
    std::shared_ptr<ReceivedEvent> message, spare;
    Event::Which which{};
    bool ignore_alive = false;
    bool seen = false, updated = false, alive = false, valid = false, freq_ok = false;
    uint64_t rcv_time = 0, rcv_frame = 0, log_mono_time = 0, bad_messages = 0;
    RateWindow rate;
  };

  size_t index_of(std::string_view name) const;
  const State &state(std::string_view name) const { return states_[index_of(name)]; }
  void take(uint64_t now_ns);
  bool receive(State &s, uint64_t now_ns);
  void refresh(State &s, uint64_t now_ns);
  template <class Pred>
  bool all_of(const std::vector<std::string> &names, Pred pred) const;

  std::vector<std::string> names_;
  std::vector<State> states_;
  std::map<std::string, size_t, std::less<>> index_;
  std::unique_ptr<msgq::Poller> poller_;
  msgq::Message scratch_;
  uint64_t frame_ = 0;
};

}  // namespace cereal
