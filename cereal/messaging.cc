#include "cereal/messaging.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <utility>

#include <capnp/schema.h>

#include "cereal/event_check.h"
#include "cereal/remote.h"
#include "common/clock.h"
#include "msgq/zmq_socket.h"

namespace cereal {

// event_data() reads the wire format, which is little-endian, in place.
static_assert(std::endian::native == std::endian::little);

namespace {

std::string known_services() {
  std::string out;
  for (const Service &s : kServices) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

// The Event union discriminant whose member is named `name`.
Event::Which event_which(std::string_view name) {
  auto schema = capnp::Schema::from<Event>();
  KJ_IF_MAYBE(field, schema.findFieldByName(kj::StringPtr(std::string(name).c_str()))) {
    if (field->getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) {
      return static_cast<Event::Which>(field->getProto().getDiscriminantValue());
    }
  }
  throw std::invalid_argument("service '" + std::string(name) +
                              "' has no Event union member of that name in cereal/log.capnp");
}

// Where the root Event keeps what SubMaster reads off every message: the wire
// layout capnp gives cereal/log.capnp, as constants so that receiving loads
// none of them. check_event_layout() holds them against the schema before the
// first SubMaster receives anything.
struct EventLayout {
  size_t mono_byte = 0;    // logMonoTime (uint64, default 0)
  size_t valid_byte = 8;   // valid (bool, default true): the byte, and its bit as a mask
  uint8_t valid_mask = 1;
  size_t which_byte = 10;  // union discriminant (uint16)
  size_t data_bytes = 12;  // a data section this long holds all three
};
constexpr EventLayout kEventLayout;

void check_event_layout() {
  auto schema = capnp::Schema::from<Event>();
  auto mono = schema.getFieldByName("logMonoTime").getProto().getSlot();
  auto valid = schema.getFieldByName("valid").getProto().getSlot();
  const EventLayout &l = kEventLayout;
  const bool same = l.which_byte == schema.getProto().getStruct().getDiscriminantOffset() * sizeof(uint16_t) &&
                    l.mono_byte == mono.getOffset() * sizeof(uint64_t) && mono.getDefaultValue().getUint64() == 0 &&
                    l.valid_byte == valid.getOffset() / 8 && l.valid_mask == 1u << (valid.getOffset() % 8) &&
                    valid.getDefaultValue().getBool() &&
                    l.data_bytes == std::max({l.which_byte + sizeof(uint16_t), l.mono_byte + sizeof(uint64_t), l.valid_byte + 1});
  if (!same) throw std::logic_error("cereal/log.capnp moved Event's logMonoTime, valid or union tag: update kEventLayout in cereal/messaging.cc");
}

// The root Event's data section when `bytes` has the shape every publisher
// here produces: one segment filling the message, a struct root pointer to a
// struct inside it whose data section holds the union tag, valid and
// logMonoTime. nullptr for anything else; capnp's reader then decides. What is
// accepted here passes capnp's own checks of the root (segment table, pointer
// kind, bounds), so setting up a reader later cannot fail, and everything
// below the root stays bounds-checked by capnp when it is read.
const kj::byte *event_data(const char *bytes, size_t size) {
  if (size < 3 * sizeof(capnp::word) || size % sizeof(capnp::word) != 0) return nullptr;
  uint64_t table, root;
  std::memcpy(&table, bytes, sizeof(table));
  std::memcpy(&root, bytes + sizeof(table), sizeof(root));
  const uint64_t segment_words = size / sizeof(capnp::word) - 1;
  // The table's two uint32s: segment count - 1 (zero), then the segment's words (all of them).
  if (table != segment_words << 32) return nullptr;
  // A struct pointer (low bits 0) with an offset >= 0 (bit 31 clear), in words after the pointer.
  if ((root & 0x80000003u) != 0) return nullptr;
  const uint64_t start = 1 + (uint32_t(root) >> 2);  // words from segment start
  const uint64_t data_words = uint16_t(root >> 32), pointer_words = uint16_t(root >> 48);
  if (start + data_words + pointer_words > segment_words) return nullptr;
  if (data_words * sizeof(capnp::word) < kEventLayout.data_bytes) return nullptr;
  return reinterpret_cast<const kj::byte *>(bytes) + (1 + start) * sizeof(capnp::word);
}

template <class T>
T load(const kj::byte *p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Sets up m's capnp reader and root Event over its bytes. capnp checks the
// segment table and the root pointer, and throws kj::Exception when they are
// not a message.
void open_reader(ReceivedEvent &m) {
  m.reader.emplace(m.words());
  m.event = m.reader->getRoot<Event>();
}

}  // namespace

const Service &service(std::string_view name) {
  const Service *s = find_service(name);
  if (s == nullptr) {
    throw std::invalid_argument("unknown service '" + std::string(name) + "'; known: " + known_services());
  }
  return *s;
}

size_t serialize(capnp::MessageBuilder &msg, std::vector<uint64_t> &out) {
  auto segments = msg.getSegmentsForOutput();
  // Segment table: count-1, then each size, as uint32 words padded to 8 bytes.
  size_t table_words = (segments.size() + 2) / 2;
  size_t words = table_words;
  for (auto seg : segments) words += seg.size();
  out.resize(words);
  auto *table = reinterpret_cast<uint32_t *>(out.data());
  table[0] = uint32_t(segments.size() - 1);
  for (size_t i = 0; i < segments.size(); ++i) table[i + 1] = uint32_t(segments[i].size());
  if (segments.size() % 2 == 0) table[segments.size() + 1] = 0;
  uint64_t *dst = out.data() + table_words;
  for (auto seg : segments) {
    std::memcpy(dst, seg.begin(), seg.size() * sizeof(capnp::word));
    dst += seg.size();
  }
  return words * sizeof(uint64_t);
}

namespace detail {

namespace {

constexpr size_t kSegmentWords = 1024;
constexpr size_t kMaxPooled = 64;

// Never destroyed: MessageBuilders in static objects may outlive any static pool.
struct SegmentPool {
  std::mutex mutex;
  std::vector<capnp::word *> free;
};

SegmentPool &pool() {
  static SegmentPool *p = new SegmentPool;
  return *p;
}

// One block per thread in front of the pool, so the usual build-send-destroy
// loop takes no lock. Trivially destructible: still usable while the thread
// exits, after ThreadBlockReturn has given the block back and closed it.
struct ThreadBlock {
  capnp::word *block = nullptr;
  bool closed = false;
};
thread_local ThreadBlock thread_block;

void give_back(capnp::word *block) {
  {
    std::lock_guard<std::mutex> lock(pool().mutex);
    if (pool().free.size() < kMaxPooled) {
      pool().free.push_back(block);
      return;
    }
  }
  std::free(block);
}

struct ThreadBlockReturn {
  ~ThreadBlockReturn() {
    thread_block.closed = true;
    if (thread_block.block != nullptr) give_back(thread_block.block);
    thread_block.block = nullptr;
  }
};

}  // namespace

PooledSegment::PooledSegment() {
  block_ = std::exchange(thread_block.block, nullptr);
  if (block_ == nullptr) {
    std::lock_guard<std::mutex> lock(pool().mutex);
    if (!pool().free.empty()) {
      block_ = pool().free.back();
      pool().free.pop_back();
    }
  }
  if (block_ == nullptr) {
    block_ = static_cast<capnp::word *>(std::calloc(kSegmentWords + 1, sizeof(capnp::word)));
    if (block_ == nullptr) throw std::bad_alloc();
  }
  segment_ = kj::arrayPtr(block_ + 1, kSegmentWords);
}

PooledSegment::~PooledSegment() {
  if (thread_block.block == nullptr && !thread_block.closed) {
    thread_local ThreadBlockReturn at_thread_exit;  // registered on first use
    (void)at_thread_exit;
    thread_block.block = block_;
    return;
  }
  give_back(block_);
}

}  // namespace detail

MessageBuilder::MessageBuilder(msgq::PubSocket &sock, size_t capacity) {
  if (sock.on_loan() || capacity < 2 * sizeof(capnp::word)) return;  // another builder holds it
  const size_t words = capacity / sizeof(capnp::word);
  lent_ = kj::arrayPtr(static_cast<capnp::word *>(sock.loan(words * sizeof(capnp::word))), words);
  lender_ = &sock;
}

MessageBuilder::MessageBuilder(PubMaster &pm, std::string_view name)
    : MessageBuilder(pm.socket(name), service(name).loan) {}

MessageBuilder::~MessageBuilder() noexcept(false) {
  if (gave_first_) {
    // capnp takes the pooled segment as zeroed memory: give it back that way. It
    // is the first segment allocateSegment handed out after any loan; only its
    // used part is dirty.
    std::memset(segment_.begin(), 0, getSegmentsForOutput()[gave_lent_ ? 1 : 0].size() * sizeof(capnp::word));
  }
  for (capnp::word *segment : more_) std::free(segment);
  if (lender_ != nullptr && !sent_) lender_->cancel_loan();
}

kj::ArrayPtr<capnp::word> MessageBuilder::allocateSegment(unsigned minimum_words) {
  if (lender_ != nullptr && !gave_lent_ && minimum_words < lent_.size()) {
    gave_lent_ = true;
    auto segment = lent_.slice(1, lent_.size());
    std::memset(segment.begin(), 0, segment.size() * sizeof(capnp::word));  // the ring's old bytes
    next_words_ = segment.size();
    return segment;
  }
  if (!gave_first_ && minimum_words <= segment_.size()) {
    gave_first_ = true;
    next_words_ = std::max(next_words_, segment_.size());
    return segment_;
  }
  // As capnp::MallocMessageBuilder grows (GROW_HEURISTICALLY): each new segment
  // is as large as all before it together, up to capnp's largest segment.
  constexpr size_t kMaxSegmentWords = (size_t(1) << 29) - 1;
  size_t words = std::max<size_t>(minimum_words, std::max<size_t>(next_words_, 1024));
  next_words_ = std::min(kMaxSegmentWords, next_words_ + words);
  more_.reserve(more_.size() + 1);
  auto *segment = static_cast<capnp::word *>(std::calloc(words, sizeof(capnp::word)));
  if (segment == nullptr) throw std::bad_alloc();
  more_.push_back(segment);
  return kj::arrayPtr(segment, words);
}

kj::ArrayPtr<const kj::byte> MessageBuilder::flatBytesInPlace() {
  auto segments = getSegmentsForOutput();
  if (segments.size() != 1 || segments[0].begin() != segment_.begin()) return nullptr;
  auto *table = reinterpret_cast<uint32_t *>(block_);
  table[0] = 0;  // segment count - 1
  table[1] = uint32_t(segments[0].size());
  return kj::arrayPtr(reinterpret_cast<const kj::byte *>(block_), (segments[0].size() + 1) * sizeof(capnp::word));
}

void MessageBuilder::send(msgq::PubSocket &sock, std::vector<uint64_t> &scratch) {
  if (lender_ != nullptr) return send_lent(sock, scratch);
  auto flat = flatBytesInPlace();
  if (flat.size() > 0) {
    sock.send(flat.begin(), flat.size());
  } else {
    sock.send(scratch.data(), serialize(*this, scratch));
  }
}

void MessageBuilder::send_lent(msgq::PubSocket &sock, std::vector<uint64_t> &scratch) {
  if (sent_) {
    throw msgq::Error("msgq topic '" + sock.topic() + "': a message built in a loan is sent once (its bytes are the "
                      "topic's now); build a new one");
  }
  auto segments = getSegmentsForOutput();
  if (&sock == lender_ && segments.size() == 1 && segments[0].begin() == lent_.begin() + 1) {
    auto *table = reinterpret_cast<uint32_t *>(lent_.begin());
    table[0] = 0;  // segment count - 1
    table[1] = uint32_t(segments[0].size());
    sent_ = true;
    sock.commit((segments[0].size() + 1) * sizeof(capnp::word));
    return;
  }
  // Outgrew the loan, or another socket: copied, read out of the loan before it goes back.
  const size_t size = serialize(*this, scratch);
  sent_ = true;
  lender_->cancel_loan();
  sock.send(scratch.data(), size);
}

Event::Builder MessageBuilder::initEvent(bool valid) {
  Event::Builder event = initRoot<Event>();
  event.setLogMonoTime(conduit::mono_ns());
  event.setValid(valid);
  return event;
}

// --- PubMaster ---

PubMaster::PubMaster(const std::vector<std::string> &services) {
  for (const std::string &name : services) {
    const Service &s = service(name);
    event_which(name);
    sockets_.emplace_back(name, msgq::PubSocket::create(name, s.ring_size));
  }
}

void PubMaster::not_published(std::string_view name) {
  throw std::invalid_argument("PubMaster does not publish '" + std::string(name) + "'");
}

// --- SubMaster ---

bool SubMaster::RateWindow::ok() const {
  const size_t count = std::min<uint64_t>(added, times.size());
  if (count < 5) return false;
  const uint64_t newest = times[next == 0 ? times.size() - 1 : next - 1];
  // Until the ring is full it has not wrapped: the oldest time is the first.
  const uint64_t oldest = times[count == times.size() ? next : 0];
  if (newest <= oldest) return false;
  const double span_ns = double(newest - oldest), intervals = double(count - 1);
  return span_ns >= intervals * min_interval_ns && span_ns <= intervals * max_interval_ns;
}

SubMaster::SubMaster(const std::vector<std::string> &services, const std::vector<std::string> &poll,
                     const std::vector<std::string> &ignore_alive, bool conflate, const std::string &addr)
    : names_(services), states_(services.size()) {
  static const bool layout_checked = (check_event_layout(), true);
  (void)layout_checked;
  for (size_t i = 0; i < services.size(); ++i) {
    State &s = states_[i];
    s.name = services[i];
    s.service = &service(s.name);
    s.which = event_which(s.name);
    if (index_of(s.name) != i) {
      throw std::invalid_argument("SubMaster: service '" + s.name + "' listed twice");
    }
    if (is_local_addr(addr)) {
      msgq::SubOptions opts;
      opts.conflate = conflate;
      opts.ring_size = s.service->ring_size;
      s.socket = msgq::SubSocket::create(s.name, opts);
    }
    s.in_place = s.service->loan != 0;
    const double hz = s.service->frequency;
    if (hz > 0.0) {
      s.alive_window_ns = uint64_t(std::ceil(10.0 / hz * 1e9));
      s.rate.min_interval_ns = 1e9 / (1.2 * hz);
      s.rate.max_interval_ns = 1e9 / (0.8 * hz);
    }
    // About one second of receive times, at least enough to measure a rate.
    s.rate.times.resize(std::max<size_t>(5, size_t(std::ceil(hz)) + 1));
  }
  for (const std::string &name : ignore_alive) states_[index_of(name)].ignore_alive = true;

  if (is_local_addr(addr)) {
    poller_ = msgq::Poller::create();
  } else {
    auto remote = remote_subscribers(services, addr, conflate);
    for (size_t i = 0; i < services.size(); ++i) states_[i].socket = std::move(remote[i]);
    poller_ = std::make_unique<msgq::ZmqPoller>();
  }
  for (const std::string &name : poll.empty() ? services : poll) {
    State &s = states_[index_of(name)];
    if (!s.polled) poller_->add(*s.socket);
    s.polled = true;
  }
}

void SubMaster::not_subscribed(std::string_view name) {
  throw std::invalid_argument("SubMaster is not subscribed to '" + std::string(name) + "'");
}

// The hot loop of a subscriber: the steps that beginUpdate(), wait() and
// endUpdate() take one by one, inlined into one pass (a fifth fewer
// instructions per message than calling those three).
[[gnu::always_inline]] inline void SubMaster::run(int timeout_ms, std::optional<uint64_t> fixed_now) {
  if (!take_waiting(fixed_now) && timeout_ms != 0) {
    wait(timeout_ms);
    take_arrived(fixed_now);
  }
}

void SubMaster::update(int timeout_ms) { run(timeout_ms, std::nullopt); }

void SubMaster::update(int timeout_ms, uint64_t now_ns) { run(timeout_ms, now_ns); }

bool SubMaster::beginUpdate(std::optional<uint64_t> now_ns) {
  waited_ = false;
  return take_waiting(now_ns);
}

void SubMaster::wait(int timeout_ms) {
  waited_ = true;
  poller_->spin_then_poll(timeout_ms, kLookBeforeSleepNs);
}

void SubMaster::endUpdate(std::optional<uint64_t> now_ns) {
  if (std::exchange(waited_, false)) take_arrived(now_ns);
}

// Takes what is already there first: a service that streams costs no poll.
inline bool SubMaster::take_waiting(std::optional<uint64_t> fixed_now) {
  ++frame_;
  pass_time_ = fixed_now ? *fixed_now : conduit::mono_ns();
  bool got_polled = false;
  for (State &s : states_) {
    s.updated = receive(s);
    got_polled |= s.updated && s.polled;
  }
  return got_polled;
}

// What arrived during the wait was received after it.
inline void SubMaster::take_arrived(std::optional<uint64_t> fixed_now) {
  pass_time_ = fixed_now ? *fixed_now : conduit::mono_ns();
  for (State &s : states_) {
    if (!s.updated) s.updated = receive(s);
  }
}

// What SubMaster reads off every Event it receives.
struct EventHead {
  Event::Which which;
  bool valid;
  uint64_t log_mono_time;
};

// EventHead of a message that event_data() does not take: capnp's reader
// checks it (set up in m.reader). False when it is not a readable Event. Out
// of line, so the usual path carries no exception handling.
[[gnu::noinline]] static std::optional<EventHead> read_unusual_head(ReceivedEvent &m) {
  try {
    if ((m.in_place ? m.view.size() : m.bytes.size()) % sizeof(capnp::word) != 0) {
      throw std::runtime_error("size is not a multiple of 8");
    }
    open_reader(m);
    return EventHead{m.event.which(), m.event.getValid(), m.event.getLogMonoTime()};
  } catch (...) {
    return std::nullopt;  // kj::Exception or ours: the message is unusable either way
  }
}

// m's head, from m's `bytes` (its bytes or its view's).
static std::optional<EventHead> read_head(ReceivedEvent &m, const char *bytes, size_t size) {
  const kj::byte *data = event_data(bytes, size);
  if (data == nullptr) return read_unusual_head(m);
  const EventLayout &l = kEventLayout;
  return EventHead{static_cast<Event::Which>(load<uint16_t>(data + l.which_byte)),
                   (data[l.valid_byte] & l.valid_mask) == 0,  // stored XOR its default, true
                   load<uint64_t>(data + l.mono_byte)};       // default 0
}

// Whether every field of m can be read without capnp throwing (event_check.h).
static bool readable(const ReceivedEvent &m) { return !event_problem(m.words()); }

// A spare holder of its own: the old one is still held by a message() handle.
[[gnu::noinline]] static void renew(std::shared_ptr<ReceivedEvent> &spare) { spare = std::make_shared<ReceivedEvent>(); }

inline bool SubMaster::receive(State &s) {
  if (s.in_place) [[unlikely]] return receive_in_place(s);
  // Receive into the spare holder (the message before last, reused unless
  // someone still holds it), so a bad message leaves the current one in place.
  if (!s.spare || s.spare.use_count() > 1) renew(s.spare);
  ReceivedEvent &m = *s.spare;
  if (!s.socket->receive(m.bytes, 0)) return false;
  m.reader.reset();

  const std::optional<EventHead> head = read_head(m, m.bytes.data(), m.bytes.size());
  if (!head || head->which != s.which || !readable(m)) {
    ++s.bad_messages;
    return false;
  }
  return accept(s, head->valid, head->log_mono_time);
}

// A loan topic: the message as a view, checked as a copy is, and then still
// intact (else it was overwritten while checked, and counts as lost).
[[gnu::noinline]] bool SubMaster::receive_in_place(State &s) {
  if (!s.spare || s.spare.use_count() > 1) renew(s.spare);
  ReceivedEvent &m = *s.spare;
  if (!s.socket->receive_view(m.view, 0)) return false;
  m.in_place = true;
  m.reader.reset();
  const std::optional<EventHead> head = read_head(m, m.view.data(), m.view.size());
  const bool good = head && head->which == s.which && readable(m);
  if (!m.view.intact()) return false;
  if (!good) {
    ++s.bad_messages;
    return false;
  }
  return accept(s, head->valid, head->log_mono_time);
}

// The message in the spare holder becomes the service's newest.
inline bool SubMaster::accept(State &s, bool valid, uint64_t log_mono_time) {
  std::swap(s.message, s.spare);
  s.valid = valid;
  s.log_mono_time = log_mono_time;
  s.rcv_time = pass_time_;
  s.rcv_frame = frame_;
  s.rate.add(s.rcv_time);
  return true;
}

SubMaster::Status SubMaster::status(size_t i) const {
  const State &s = states_.at(i);
  return {s.updated, is_alive(s), s.valid, is_freq_ok(s), s.rcv_time, s.rcv_frame, s.log_mono_time};
}

ReceivedEvent *SubMaster::parsed(const State &s) const {
  ReceivedEvent *m = s.message.get();
  if (m != nullptr && !m->reader) open_reader(*m);
  return m;
}

template <class Pred>
bool SubMaster::all_of(const std::vector<std::string> &names, Pred pred) const {
  if (names.empty()) return std::all_of(states_.begin(), states_.end(), pred);
  return std::all_of(names.begin(), names.end(), [&](const std::string &n) { return pred(state(n)); });
}

bool SubMaster::allAlive(const std::vector<std::string> &names) const {
  return all_of(names, [this](const State &s) { return s.ignore_alive || is_alive(s); });
}

bool SubMaster::allValid(const std::vector<std::string> &names) const {
  return all_of(names, [](const State &s) { return s.valid; });
}

bool SubMaster::allFreqOk(const std::vector<std::string> &names) const {
  return all_of(names, [this](const State &s) { return s.ignore_alive || is_freq_ok(s); });
}

bool SubMaster::allAliveAndValid(const std::vector<std::string> &names) const {
  return allAlive(names) && allValid(names);
}

Event::Reader SubMaster::operator[](std::string_view name) const {
  const ReceivedEvent *m = parsed(state(name));
  return m != nullptr ? m->event : Event::Reader();
}

std::shared_ptr<const ReceivedEvent> SubMaster::message(std::string_view name) const {
  const State &s = state(name);
  parsed(s);
  return s.message;
}

}  // namespace cereal
