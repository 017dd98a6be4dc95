#pragma once
// msgq: the conduit message bus. One topic = one ring in shared memory, one
// publisher, up to 64 subscribers. Endpoint = topic name.
//
//   auto pub = msgq::PubSocket::create("sensorEvents");
//   auto sub = msgq::SubSocket::create("sensorEvents");
//   pub->send(bytes, n);
//   msgq::Message m;
//   if (sub->receive(m, 100)) use(m.data(), m.size());
//
// Backends: shared memory (default) or libzmq PUB/SUB over a unix socket in the
// prefix's directory when the environment has ZMQ=1 (read at create time; tcp on
// loopback with CONDUIT_ZMQ_TRANSPORT=tcp, zmq_socket.h). Both behave the same through this
// API. Channels that only make sense on one machine (VisionIPC announcements)
// ask for shared memory explicitly with `local`.
//
// Ownership: sockets are owned by the caller (unique_ptr). A Message owns a copy
// of the payload, 8-byte aligned, so Cap'n Proto can read it in place.
// Threads: a socket is used by one thread at a time; different sockets (even on
// the same topic) may be used from different threads.
// Errors: msgq::Error (a std::runtime_error) with what was expected and what was
// found — bad topic names, a second live publisher, an oversized message, a shm
// file with the wrong magic/version/size, no free subscriber slot. A subscriber
// never goes silent over damage: a corrupt message header or ring header, or
// (checked when a wait times out, at most once a second) its shm file removed
// or replaced, is an Error from receive()/poll() saying so.
// Loss: a subscriber lapped by the publisher never sees a torn message; it resumes
// at the oldest intact message (about half a ring behind the publisher when it
// is lapped again before it has read half the ring: it does not keep up) and
// lost() says exactly how many it missed.
//
// Large messages, in place (zero copy): the publisher builds the message in
// the ring and commits it, the subscriber reads it where it lies.
//
//   void *p = pub->loan(n);             // n writable bytes in the ring
//   fill(p); pub->commit(used);         // publishes the first `used` bytes
//   msgq::MessageView v;
//   if (sub->receive_view(v, 100)) {
//     auto r = read(v.data(), v.size());  // read in place: no copy
//     if (v.intact()) use(r);             // r holds the whole message
//   }
//
// Nothing pins a view: the publisher never waits for readers, so it may
// overwrite a message while a reader still reads it. A reader therefore reads
// what it needs from the view, then asks intact(). True: everything it read
// before that call was the message, whole. False: it was overwritten (maybe
// halfway through the read); discard what was read, it counts in lost().
// Nothing read from a view may be acted on before intact() says true; a
// parser over a changing view (Cap'n Proto checks bounds, not values) may
// also throw, which intact() then explains. Copies (receive()) need no check.
// When to use which: copies for small messages (up to tens of KiB: the copy
// is cheap, and the reader owns the result), loans for large ones (a copy
// costs more than the wake-up; tools/bench/run msgq measures both).
//
// Lockstep (fake events; what process replay drives a process with): a
// subscriber in lockstep mode (SubOptions::lockstep, by default on in a
// process started with CONDUIT_LOCKSTEP=1) tells its topic when it is done
// with what it took: whenever it is about to wait for the next message (a
// receive() or poll() with a nonzero timeout that finds nothing), or on
// done(). With timeout 0 they do not (draining a socket is not being done
// with it): a subscriber that never waits calls done() itself. Its
// waits ignore their timeout, so the process runs on the messages it is fed,
// never on the clock; a signal ends such a wait as a timeout would (to stop
// cleanly). The feeder sends one message and calls wait_lockstep(): back
// when every lockstep subscriber of the topic has taken it and reported done
// (a subscriber that never reports done is waited for until the timeout). A
// process's stop handler calls stop_lockstep_waits(), as a signal that comes
// just before a wait begins cannot end it.
//
//   pub->send(bytes, n);
//   while (!pub->wait_lockstep(100)) check_process_alive();
//
// Shared memory only: on ZMQ, wait_lockstep() and all_readers_updated() throw.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace msgq {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A second live publisher on a topic (PubSocket::create).
struct MultiplePublishersError : Error {
  using Error::Error;
};

// Ring size of a topic created without an explicit size.
constexpr size_t kDefaultRingSize = 1 << 20;
// Subscriber slots per topic.
constexpr int kMaxSubscribers = 64;

// Largest payload a ring of `ring_size` bytes accepts.
size_t max_message_size(size_t ring_size);

// True when ZMQ=1 selects the libzmq backend.
bool zmq_backend();

class Message {
 public:
  Message() = default;
  Message(const void *data, size_t size);
  const char *data() const { return reinterpret_cast<const char *>(buf_.get()); }
  char *data() { return reinterpret_cast<char *>(buf_.get()); }
  size_t size() const { return size_; }
  uint64_t seq() const { return seq_; }  // publisher's sequence number, from 0

  // Makes room for `size` bytes (reusing the buffer when it is large enough).
  char *resize(size_t size);
  void set_seq(uint64_t seq) { seq_ = seq; }

 private:
  std::unique_ptr<uint64_t[]> buf_;
  size_t size_ = 0, capacity_ = 0;
  uint64_t seq_ = 0;
};

// A received message in place in the topic's shared memory (see above: read,
// then intact()), or in the view's own copy on the ZMQ backend. Valid while
// the socket that filled it lives; reused by the next receive_view().
class MessageView {
 public:
  const char *data() const { return data_; }
  size_t size() const { return size_; }
  uint64_t seq() const { return seq_; }
  // True while the publisher has not overwritten the message: call it after
  // reading. The first false counts the message in the socket's lost().
  bool intact() const;

 private:
  friend class ShmSubSocket;
  friend class SubSocket;
  void set_seq(uint64_t seq) { seq_ = seq; }
  const char *data_ = nullptr;
  size_t size_ = 0;
  uint64_t seq_ = 0;
  uint64_t pos_ = 0;                                 // where it lies in the ring
  const std::atomic<uint64_t> *overwritten_upto_ = nullptr;  // null: a copy, always intact
  mutable uint64_t *lost_ = nullptr;                 // the socket's count, until counted
  Message copy_;                                     // the copy, on backends that copy
};

class PubSocket {
 public:
  // Creates the topic if it does not exist yet (with `ring_size` bytes), and
  // becomes its publisher. Throws if another live publisher holds the topic.
  static std::unique_ptr<PubSocket> create(const std::string &topic, size_t ring_size = kDefaultRingSize,
                                           bool local = false);
  virtual ~PubSocket() = default;

  // Publishes one message. Never blocks. Throws Error if size > max_message_size().
  virtual void send(const void *data, size_t size) = 0;

  // Lends `size` writable bytes, 8-byte aligned, for the next message: in the
  // topic's ring on shared memory (a private buffer on ZMQ). They may hold old
  // bytes. Subscribers see nothing of it until commit(n) publishes its first
  // n bytes; a publisher that dies holding a loan leaves nothing readable.
  // One loan at a time: loan() and send() throw Error while one is out, and
  // the bytes are the caller's until commit() or cancel_loan(). Never blocks.
  // Throws Error if size > max_message_size().
  virtual void *loan(size_t size) = 0;
  virtual void commit(size_t size) = 0;  // Error without a loan, or n > the loan
  virtual void cancel_loan() = 0;        // nothing is published; no-op without a loan
  virtual bool on_loan() const = 0;      // whether a loan is out
  virtual const std::string &topic() const = 0;
  // Number of subscribers attached right now (-1 when the backend cannot tell).
  virtual int subscriber_count() const = 0;
  // Whether every live subscriber has taken every message sent so far.
  virtual bool all_readers_updated() const;
  // Waits until at least one lockstep subscriber is attached and every one
  // has taken every message sent so far and is done with it (see above).
  // timeout_ms as in SubSocket::receive(); false on timeout. Subscribers
  // whose process died do not count.
  virtual bool wait_lockstep(int timeout_ms);
};

// Whether subscribers created from now on in this process are in lockstep
// mode by default: CONDUIT_LOCKSTEP=1 in the environment, unless set here.
bool lockstep_default();
void set_lockstep_default(bool on);
// Async-signal-safe: from now on this process's lockstep waits end at once
// (within 100 ms for one under way), as timeouts.
void stop_lockstep_waits();
bool lockstep_waits_stopped();

struct SubOptions {
  bool conflate = false;                // receive only the newest message
  size_t ring_size = kDefaultRingSize;  // used only if this subscriber creates the topic
  bool local = false;                   // shared memory even when ZMQ=1
  bool lockstep = lockstep_default();   // see Lockstep above (shared memory only)
};

class SubSocket {
 public:
  // Attaches to the topic (creating it if needed), starting after the newest
  // message present now. Throws if all 64 slots are held by live subscribers.
  static std::unique_ptr<SubSocket> create(const std::string &topic, SubOptions opts = {});
  virtual ~SubSocket() = default;

  // Receives the next message into `msg`. timeout_ms: 0 = don't wait,
  // -1 = wait forever, >0 = wait at most that long. Returns false on timeout.
  virtual bool receive(Message &msg, int timeout_ms) = 0;
  // Receives the next message as a view (see MessageView), timeout_ms as in
  // receive(). The default copies into the view (the ZMQ backend).
  virtual bool receive_view(MessageView &view, int timeout_ms);
  // Messages this subscriber missed so far: lapped by the publisher, or skipped by conflate.
  virtual uint64_t lost() const = 0;
  // Frames received that were no message of this topic, skipped: a broken or
  // hostile peer of a zmq link (too short, or a part of a multi-part message).
  // Always 0 on shared memory.
  virtual uint64_t malformed() const { return 0; }
  // Lockstep mode: done with every message taken so far (receive() and
  // poll() say so themselves before they wait). A no-op otherwise.
  virtual void done() {}
  virtual const std::string &topic() const = 0;
};

// Waits on many subscribers at once (futex_waitv on the shm backend).
class Poller {
 public:
  static std::unique_ptr<Poller> create(bool local = false);
  virtual ~Poller() = default;
  // The socket must outlive the poller and come from the same backend.
  virtual void add(SubSocket &sock) = 0;
  // Sockets that have a message ready (possibly empty on timeout). timeout_ms as
  // in receive(). The list is the poller's own, valid until its next poll(): a
  // caller that polls in a loop allocates nothing.
  virtual const std::vector<SubSocket *> &poll(int timeout_ms) = 0;
  // poll(timeout_ms), after looking for a message for up to spin_ns without
  // sleeping: for a consumer of a stream that refills within microseconds, a
  // futex wait and wake-up (and the publisher's FUTEX_WAKE) cost more than the
  // look. CPU per call is bounded by spin_ns.
  const std::vector<SubSocket *> &spin_then_poll(int timeout_ms, uint64_t spin_ns);
};

}  // namespace msgq
