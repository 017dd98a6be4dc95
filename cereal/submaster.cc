// SubMaster (messaging.h): its state per service and the receive loop.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <capnp/schema.h>

#include "cereal/event_check.h"
#include "cereal/event_head.h"
#include "cereal/frequency_tracker.h"
#include "cereal/messaging.h"
#include "cereal/remote.h"
#include "common/clock.h"
#include "msgq/zmq_socket.h"

namespace cereal {

using detail::event_which;
using detail::EventHead;
using detail::open_reader;
using detail::read_head;

namespace {

// What update() keeps per service; alive and freq_ok follow from it when asked.
struct State {
  std::string name;
  const Service *service = nullptr;
  std::unique_ptr<msgq::SubSocket> socket;
  std::shared_ptr<ReceivedEvent> message, spare;
  Event::Which which{};
  bool updated = false, valid = false;
  uint64_t rcv_time = 0, rcv_frame = 0, log_mono_time = 0;
  uint64_t alive_window_ns = 0;  // 10 periods; 0 for frequency 0
  bool ignore_alive = false, polled = false, seen = false;
  bool in_place = false;  // a loan topic: read as views
  uint64_t bad_messages = 0;
  FrequencyTracker rate;
};

// Whether every field of m can be read without capnp throwing (event_check.h).
bool readable(const ReceivedEvent &m) { return !event_problem(m.words()); }

// A spare holder of its own: the old one is still held by a message() handle.
[[gnu::noinline]] void renew(std::shared_ptr<ReceivedEvent> &spare) { spare = std::make_shared<ReceivedEvent>(); }

}  // namespace

struct SubMaster::Impl {
  std::vector<std::string> names;
  std::vector<State> states;
  std::unique_ptr<msgq::Poller> poller;
  uint64_t frame = 0;
  // The receive time of the current pass: fixed, or the clock read as it began.
  // Read first, not when the first message is taken: reading the clock waits
  // for the instructions before it to finish (an ordered TSC read), so in the
  // middle of a receive it would stall it.
  // Between updates, that of the last pass: the time alive is judged at.
  uint64_t pass_time = 0;
  bool waited = false;

  // A scan: few services per master, and most names differ in length.
  size_t index_of(std::string_view name) const {
    for (size_t i = 0; i < names.size(); ++i) {
      if (detail::same_name(names[i], name)) return i;
    }
    throw std::invalid_argument("SubMaster is not subscribed to '" + std::string(name) + "'");
  }
  const State &state(std::string_view name) const { return states[index_of(name)]; }

  // A service of frequency 0 (on demand) is always alive and frequency-ok.
  bool is_alive(const State &s) const {
    return s.alive_window_ns == 0 || (s.seen && pass_time - s.rcv_time < s.alive_window_ns);
  }
  bool is_freq_ok(const State &s) const { return s.alive_window_ns == 0 || s.rate.ok(); }

  // s.message with its reader set up (null before the first message).
  ReceivedEvent *parsed(const State &s) const {
    ReceivedEvent *m = s.message.get();
    if (m != nullptr && !m->reader) open_reader(*m);
    return m;
  }

  template <class Pred>
  bool all_of(const std::vector<std::string> &which, Pred pred) const {
    if (which.empty()) return std::all_of(states.begin(), states.end(), pred);
    return std::all_of(which.begin(), which.end(), [&](const std::string &n) { return pred(state(n)); });
  }

  // The hot loop of a subscriber: the steps that beginUpdate(), wait() and
  // endUpdate() take one by one, inlined into one pass (a fifth fewer
  // instructions per message than calling those three).
  [[gnu::always_inline]] void run(int timeout_ms, std::optional<uint64_t> fixed_now) {
    if (!take_waiting(fixed_now) && timeout_ms != 0) {
      wait(timeout_ms);
      take_arrived(fixed_now);
    }
  }

  void wait(int timeout_ms) {
    waited = true;
    poller->spin_then_poll(timeout_ms, kLookBeforeSleepNs);
  }

  // A new pass takes what is already there first: a service that streams
  // costs no poll. True when a polled service got a message.
  bool take_waiting(std::optional<uint64_t> fixed_now) {
    ++frame;
    pass_time = fixed_now ? *fixed_now : conduit::mono_ns();
    bool got_polled = false;
    for (State &s : states) {
      s.updated = receive(s);
      got_polled |= s.updated && s.polled;
    }
    return got_polled;
  }

  // What arrived during the wait was received after it.
  void take_arrived(std::optional<uint64_t> fixed_now) {
    pass_time = fixed_now ? *fixed_now : conduit::mono_ns();
    for (State &s : states) {
      if (!s.updated) s.updated = receive(s);
    }
  }

  bool receive(State &s) {
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
  [[gnu::noinline]] bool receive_in_place(State &s) {
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
  bool accept(State &s, bool valid, uint64_t log_mono_time) {
    std::swap(s.message, s.spare);
    s.valid = valid;
    s.log_mono_time = log_mono_time;
    s.rcv_time = pass_time;
    s.rcv_frame = frame;
    s.seen = true;
    s.rate.record(s.rcv_time);
    return true;
  }
};

SubMaster::SubMaster(const std::vector<std::string> &services, const std::vector<std::string> &poll,
                     const std::vector<std::string> &ignore_alive, bool conflate, const std::string &addr,
                     double frequency)
    : impl_(std::make_unique<Impl>()) {
  if (frequency > 0 && !poll.empty()) {
    throw std::invalid_argument("SubMaster: give frequency or poll, not both (the polled services set the rate)");
  }
  static const bool layout_checked = (detail::check_event_layout(), true);
  (void)layout_checked;
  Impl &d = *impl_;
  d.names = services;
  d.states.resize(services.size());
  for (size_t i = 0; i < services.size(); ++i) {
    State &s = d.states[i];
    s.name = services[i];
    s.service = &service(s.name);
    s.which = event_which(s.name);
    if (d.index_of(s.name) != i) {
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
    if (hz > 0.0) s.alive_window_ns = uint64_t(std::ceil(10.0 / hz * 1e9));
    s.valid = hz == 0.0;
  }
  for (const std::string &name : ignore_alive) d.states[d.index_of(name)].ignore_alive = true;

  if (is_local_addr(addr)) {
    d.poller = msgq::Poller::create();
  } else {
    auto remote = remote_subscribers(services, addr, conflate);
    for (size_t i = 0; i < services.size(); ++i) d.states[i].socket = std::move(remote[i]);
    d.poller = std::make_unique<msgq::ZmqPoller>();
  }
  double update_hz = frequency;
  for (const std::string &name : poll.empty() ? services : poll) {
    State &s = d.states[d.index_of(name)];
    if (!s.polled) d.poller->add(*s.socket);
    s.polled = true;
    if (frequency <= 0) update_hz = std::max(update_hz, s.service->frequency);
  }
  // As openpilot: a service counts as polled for its bounds only when named in `poll`.
  for (State &s : d.states) {
    const bool named = std::find(poll.begin(), poll.end(), s.name) != poll.end();
    s.rate = FrequencyTracker(s.service->frequency, update_hz, named);
  }
}

msgq::SubSocket &SubMaster::socket(std::string_view name) const { return *impl_->state(name).socket; }

SubMaster::~SubMaster() = default;
SubMaster::SubMaster(SubMaster &&) noexcept = default;
SubMaster &SubMaster::operator=(SubMaster &&) noexcept = default;

void SubMaster::update(int timeout_ms) { impl_->run(timeout_ms, std::nullopt); }

void SubMaster::update(int timeout_ms, uint64_t now_ns) { impl_->run(timeout_ms, now_ns); }

bool SubMaster::beginUpdate(std::optional<uint64_t> now_ns) {
  impl_->waited = false;
  return impl_->take_waiting(now_ns);
}

void SubMaster::wait(int timeout_ms) { impl_->wait(timeout_ms); }

void SubMaster::endUpdate(std::optional<uint64_t> now_ns) {
  if (std::exchange(impl_->waited, false)) impl_->take_arrived(now_ns);
}

uint64_t SubMaster::frame() const { return impl_->frame; }
bool SubMaster::updated(std::string_view name) const { return impl_->state(name).updated; }
bool SubMaster::alive(std::string_view name) const { return impl_->is_alive(impl_->state(name)); }
bool SubMaster::valid(std::string_view name) const { return impl_->state(name).valid; }
bool SubMaster::freq_ok(std::string_view name) const { return impl_->is_freq_ok(impl_->state(name)); }
uint64_t SubMaster::rcv_time(std::string_view name) const { return impl_->state(name).rcv_time; }
uint64_t SubMaster::rcv_frame(std::string_view name) const { return impl_->state(name).rcv_frame; }
uint64_t SubMaster::logMonoTime(std::string_view name) const { return impl_->state(name).log_mono_time; }
uint64_t SubMaster::bad_messages(std::string_view name) const {
  const State &s = impl_->state(name);
  return s.bad_messages + s.socket->malformed();
}
uint64_t SubMaster::lost(std::string_view name) const { return impl_->state(name).socket->lost(); }

bool SubMaster::intact(std::string_view name) const {
  const State &s = impl_->state(name);
  return s.message == nullptr || s.message->intact();
}

SubMaster::Status SubMaster::status(size_t i) const {
  const State &s = impl_->states.at(i);
  return {s.updated, impl_->is_alive(s), s.valid, impl_->is_freq_ok(s), s.rcv_time, s.rcv_frame, s.log_mono_time};
}

bool SubMaster::allAlive(const std::vector<std::string> &names) const {
  return impl_->all_of(names, [this](const State &s) { return s.ignore_alive || impl_->is_alive(s); });
}

bool SubMaster::allValid(const std::vector<std::string> &names) const {
  return impl_->all_of(names, [](const State &s) { return s.valid; });
}

bool SubMaster::allFreqOk(const std::vector<std::string> &names) const {
  return impl_->all_of(names, [this](const State &s) { return s.ignore_alive || impl_->is_freq_ok(s); });
}

bool SubMaster::allAliveAndValid(const std::vector<std::string> &names) const {
  return allAlive(names) && allValid(names);
}

Event::Reader SubMaster::operator[](std::string_view name) const {
  const ReceivedEvent *m = impl_->parsed(impl_->state(name));
  return m != nullptr ? m->event : Event::Reader();
}

std::shared_ptr<const ReceivedEvent> SubMaster::message(std::string_view name) const {
  const State &s = impl_->state(name);
  impl_->parsed(s);
  return s.message;
}

const std::vector<std::string> &SubMaster::services() const { return impl_->names; }

}  // namespace cereal
