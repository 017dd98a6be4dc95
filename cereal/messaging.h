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
// Loan topics (services.py `loan`): the same code, with MessageBuilder msg(pm,
// "name"), builds the message in place in the topic's ring and sends it with
// no copy; SubMaster reads it in place. Nothing pins it there (msgq.h): after
// reading sm["name"], sm.intact("name") says whether what was read was the
// whole message (false: overwritten meanwhile, counted in lost(); reads may
// also have thrown kj::Exception). Copied topics are always intact.
//
// Ownership: each master owns its sockets. SubMaster::operator[] returns a reader
// over the bytes received, valid until the update() that replaces that service's
// message; message() returns a handle that keeps them alive as long as it is held
// (for loan topics, no longer than the SubMaster: the bytes are in its ring).
// Threads: a master is used by one thread at a time.
// Errors: unknown service names throw std::invalid_argument; socket errors throw
// msgq::Error. A received message that is not a valid Event for its service
// (malformed bytes, a bad pointer anywhere in it, wrong union member) is dropped
// and counted in bad_messages(); it never reaches operator[], so reading what
// SubMaster hands out never throws (cereal/event_check.h).
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "cereal/gen/log.capnp.h"
#include "cereal/gen/services.h"
#include "msgq/msgq.h"

namespace cereal {

class PubMaster;

// The service row for `name`; throws std::invalid_argument naming the known services.
const Service &service(std::string_view name);

// Writes `msg` in Cap'n Proto's flat framing (segment table, then segments) into
// `out`, reusing its storage. Returns the size in bytes (a multiple of 8).
size_t serialize(capnp::MessageBuilder &msg, std::vector<uint64_t> &out);

namespace detail {
// a == b for a service name. Inline with the lookups that use it, so a literal
// name's length is a constant and the compare is a few instructions, not a
// call to memcmp: a hot loop looks its services up by name on every message.
inline bool same_name(const std::string &a, std::string_view b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), b.size()) == 0;
}

// The first segment of a MessageBuilder: a zeroed 8 KiB buffer taken from a
// process-wide pool (behind a one-block cache per thread) and given back
// zeroed afterwards, so building a small message allocates nothing. One spare
// word sits before the segment: a single-segment message gets its segment
// table written there and is sent without being copied into a flat array
// first. Thread-safe.
class PooledSegment {
 protected:
  PooledSegment();
  ~PooledSegment();
  capnp::word *block_;                  // spare word, then the segment
  kj::ArrayPtr<capnp::word> segment_;
};
}  // namespace detail

// A message under construction. Messages larger than the first segment grow
// into further heap segments, sized as capnp::MallocMessageBuilder sizes them.
class MessageBuilder : private detail::PooledSegment, public capnp::MessageBuilder {
 public:
  MessageBuilder() = default;
  // A message built in place in a loan of `capacity` bytes from `sock`
  // (msgq::PubSocket::loan; zeroed, as capnp builds on zeros), when the socket
  // has no loan out; as MessageBuilder() otherwise. Sent on `sock`, a message
  // that fits the loan is committed where it lies; one that outgrew it is
  // copied. It is sent once, must not change after, nor outlive `sock`.
  MessageBuilder(msgq::PubSocket &sock, size_t capacity);
  // The same over pm's socket for `service` when the services table gives it
  // a loan; as MessageBuilder() for copied services.
  MessageBuilder(PubMaster &pm, std::string_view service);
  ~MessageBuilder() noexcept(false) override;
  // The root Event with logMonoTime = now (common/clock.h) and the given valid flag.
  Event::Builder initEvent(bool valid = true);
  kj::Array<capnp::word> toBytes() { return capnp::messageToFlatArray(*this); }
  size_t getSerializedSize() { return capnp::computeSerializedSizeInWords(*this) * sizeof(capnp::word); }
  // The serialized message in place when it is one segment in the pooled buffer
  // (valid until the builder changes); empty otherwise, then use serialize().
  kj::ArrayPtr<const kj::byte> flatBytesInPlace();

  // capnp's hook for space: the loan or the pooled segment first, then heap segments.
  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimum_words) override;

  // Publishes the message on `sock`: in place from a loan of sock's, else
  // copied (in place from the pooled segment, or serialized into `scratch`).
  void send(msgq::PubSocket &sock, std::vector<uint64_t> &scratch);
  bool inLoan() const { return lender_ != nullptr; }

 private:
  void send_lent(msgq::PubSocket &sock, std::vector<uint64_t> &scratch);

  msgq::PubSocket *lender_ = nullptr;  // the loan's socket
  kj::ArrayPtr<capnp::word> lent_;     // the loan: segment table word, then the segment
  bool gave_lent_ = false, sent_ = false;
  bool gave_first_ = false;
  size_t next_words_ = 0;            // size of the next heap segment
  std::vector<capnp::word *> more_;  // heap segments, calloc'ed
};

class PubMaster {
 public:
  // Publishes on each of `services`, with the ring size from the services table.
  explicit PubMaster(const std::vector<std::string> &services);
  void send(std::string_view name, MessageBuilder &msg) { msg.send(socket(name), buffer_); }
  void send(std::string_view name, const void *data, size_t size) { socket(name).send(data, size); }

 private:
  friend class MessageBuilder;
  // A handful of services per master: a scan beats a tree.
  msgq::PubSocket &socket(std::string_view name) {
    for (auto &[n, sock] : sockets_) {
      if (detail::same_name(n, name)) return *sock;
    }
    not_published(name);
  }
  [[noreturn]] static void not_published(std::string_view name);
  std::vector<std::pair<std::string, std::unique_ptr<msgq::PubSocket>>> sockets_;
  std::vector<uint64_t> buffer_;
};

// One received Event, read in place from the bytes msgq delivered (msgq::Message
// is 8-byte aligned, so Cap'n Proto needs no copy), or, on a loan topic, from
// the ring itself. SubMaster checks the whole message when it arrives
// (cereal/event_check.h) and sets up `reader` and `event` when it is first read
// (operator[], message()).
struct ReceivedEvent {
  msgq::Message bytes;     // copied topics
  msgq::MessageView view;  // loan topics
  bool in_place = false;   // which of the two
  std::optional<capnp::FlatArrayMessageReader> reader;
  Event::Reader event;

  kj::ArrayPtr<const capnp::word> words() const {
    const char *data = in_place ? view.data() : bytes.data();
    const size_t size = in_place ? view.size() : bytes.size();
    return kj::arrayPtr(reinterpret_cast<const capnp::word *>(data), size / sizeof(capnp::word));
  }
  // Whether everything read from it so far was the message (msgq.h's
  // MessageView::intact()); always true for a copy.
  bool intact() const { return !in_place || view.intact(); }
};

class SubMaster {
 public:
  // Subscribes to `services`. update() waits for the services in `poll` (all of
  // them when empty); services in `ignore_alive` count as alive in allAlive().
  // addr: another host, whose bridge relays the services (cereal/remote.h); the
  // default, 127.0.0.1 or localhost mean this host's bus. frequency: the rate
  // update() runs at, for freq_ok's bounds (cereal/frequency_tracker.h); 0:
  // the fastest polled service's. Giving both it and `poll` is an error.
  SubMaster(const std::vector<std::string> &services, const std::vector<std::string> &poll = {},
            const std::vector<std::string> &ignore_alive = {}, bool conflate = false, const std::string &addr = "",
            double frequency = 0);
  ~SubMaster();
  SubMaster(SubMaster &&) noexcept;
  SubMaster &operator=(SubMaster &&) noexcept;

  // Waits up to timeout_ms (0: no wait, -1: forever) for a polled service, then
  // takes at most one new message from every service. A message's receive time
  // is the clock read when the pass that took it began: once before the wait,
  // and once after it if the update waited.
  void update(int timeout_ms);
  // Same, with every receive time of this call set to now_ns (replay, tests).
  void update(int timeout_ms, uint64_t now_ns);

  // update() in steps, for a caller that acts around the wait (the Python
  // binding holds its interpreter lock except while waiting):
  //   if (!sm.beginUpdate(now) && timeout_ms != 0) sm.wait(timeout_ms);
  //   sm.endUpdate(now);
  // beginUpdate() takes the messages already waiting and returns true when a
  // polled service got one. wait() only waits on the sockets: it looks for up
  // to 10 us before it sleeps, so a streaming publisher's next message costs
  // neither side a futex call. endUpdate() takes what arrived meanwhile (if it
  // waited). The state read below is consistent after endUpdate(); alive and
  // freq_ok are judged at the time of the update's last pass. now_ns as in update().
  bool beginUpdate(std::optional<uint64_t> now_ns = std::nullopt);
  void wait(int timeout_ms);
  void endUpdate(std::optional<uint64_t> now_ns = std::nullopt);
  // How long wait() looks for a message before it sleeps (a publisher that
  // streams sends again sooner than that).
  static constexpr uint64_t kLookBeforeSleepNs = 10000;

  // Number of update() calls so far.
  uint64_t frame() const;

  // Per service; each throws std::invalid_argument for a service not subscribed.
  bool updated(std::string_view name) const;
  // Received within the last 10 periods of its frequency (frequency 0: always),
  // as of the last update().
  bool alive(std::string_view name) const;
  // The last message's valid flag (before the first message: true for a
  // frequency 0 service, false for others).
  bool valid(std::string_view name) const;
  // The receive rate is within openpilot's bounds (cereal/frequency_tracker.h;
  // always true for frequency 0).
  bool freq_ok(std::string_view name) const;
  uint64_t rcv_time(std::string_view name) const;
  uint64_t rcv_frame(std::string_view name) const;
  uint64_t logMonoTime(std::string_view name) const;
  // Messages received but dropped as malformed or holding another union member,
  // and frames a remote peer sent that were no message at all (msgq's malformed()).
  uint64_t bad_messages(std::string_view name) const;
  // Messages the publisher overwrote before this subscriber read them.
  uint64_t lost(std::string_view name) const;
  // Loan topics: whether the newest message is still whole, so everything read
  // from it before this call is good; ask after reading. Always true for copies.
  bool intact(std::string_view name) const;

  // All of the above for services()[i], without a name lookup (bindings, hot loops).
  struct Status {
    bool updated = false, alive = false, valid = false, freq_ok = false;
    uint64_t rcv_time = 0, rcv_frame = 0, log_mono_time = 0;
  };
  Status status(size_t i) const;

  // An empty set means every subscribed service.
  bool allAlive(const std::vector<std::string> &names = {}) const;
  bool allValid(const std::vector<std::string> &names = {}) const;
  bool allFreqOk(const std::vector<std::string> &names = {}) const;
  bool allAliveAndValid(const std::vector<std::string> &names = {}) const;

  // The newest message of `name`; a default Event before the first one.
  Event::Reader operator[](std::string_view name) const;
  // The newest message with its storage (null before the first one).
  std::shared_ptr<const ReceivedEvent> message(std::string_view name) const;
  const std::vector<std::string> &services() const;
  // The socket of `name` (owned by this SubMaster).
  msgq::SubSocket &socket(std::string_view name) const;

 private:
  struct Impl;  // cereal/submaster.cc
  std::unique_ptr<Impl> impl_;
};

}  // namespace cereal
