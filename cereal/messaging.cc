#include "cereal/messaging.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <capnp/schema.h>

#include "common/clock.h"

namespace cereal {

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
    sockets_.emplace(name, msgq::PubSocket::create(name, s.ring_size));
  }
}

msgq::PubSocket &PubMaster::socket(std::string_view name) {
  auto it = sockets_.find(name);
  if (it == sockets_.end()) {
    throw std::invalid_argument("PubMaster does not publish '" + std::string(name) + "'");
  }
  return *it->second;
}

void PubMaster::send(std::string_view name, MessageBuilder &msg) {
  msgq::PubSocket &sock = socket(name);
  size_t size = serialize(msg, buffer_);
  sock.send(buffer_.data(), size);
}

void PubMaster::send(std::string_view name, const void *data, size_t size) {
  socket(name).send(data, size);
}

// --- SubMaster ---

void SubMaster::RateWindow::add(uint64_t t) {
  times[next] = t;
  next = (next + 1) % times.size();
  count = std::min(count + 1, times.size());
}

double SubMaster::RateWindow::mean_hz() const {
  if (count < 2) return 0.0;
  uint64_t newest = times[(next + times.size() - 1) % times.size()];
  uint64_t oldest = times[(next + times.size() - count) % times.size()];
  if (newest <= oldest) return INFINITY;
  return double(count - 1) * 1e9 / double(newest - oldest);
}

SubMaster::SubMaster(const std::vector<std::string> &services, const std::vector<std::string> &poll,
                     const std::vector<std::string> &ignore_alive, bool conflate)
    : names_(services), states_(services.size()) {
  for (size_t i = 0; i < services.size(); ++i) {
    State &s = states_[i];
    s.name = services[i];
    s.service = &service(s.name);
    s.which = event_which(s.name);
    if (!index_.emplace(s.name, i).second) {
      throw std::invalid_argument("SubMaster: service '" + s.name + "' listed twice");
    }
    msgq::SubOptions opts;
    opts.conflate = conflate;
    opts.ring_size = s.service->ring_size;
    s.socket = msgq::SubSocket::create(s.name, opts);
    // About one second of receive times, at least enough to measure a rate.
    s.rate.times.resize(std::max<size_t>(5, size_t(std::ceil(s.service->frequency)) + 1));
  }
  for (const std::string &name : ignore_alive) states_[index_of(name)].ignore_alive = true;

  poller_ = msgq::Poller::create();
  for (const std::string &name : poll.empty() ? services : poll) {
    poller_->add(*states_[index_of(name)].socket);
  }
}

size_t SubMaster::index_of(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    throw std::invalid_argument("SubMaster is not subscribed to '" + std::string(name) + "'");
  }
  return it->second;
}

void SubMaster::update(int timeout_ms) {
  if (timeout_ms != 0) poller_->poll(timeout_ms);
  take(conduit::mono_ns());
}

void SubMaster::update(int timeout_ms, uint64_t now_ns) {
  if (timeout_ms != 0) poller_->poll(timeout_ms);
  take(now_ns);
}

void SubMaster::take(uint64_t now_ns) {
  ++frame_;
  for (State &s : states_) {
    s.updated = receive(s, now_ns);
    refresh(s, now_ns);
  }
}

bool SubMaster::receive(State &s, uint64_t now_ns) {
  if (!s.socket->receive(scratch_, 0)) return false;

  // Parse into the spare holder (the message before last, reused unless someone
  // still holds it), so a bad message leaves the current one in place.
  if (!s.spare || s.spare.use_count() > 1) s.spare = std::make_shared<ReceivedEvent>();
  ReceivedEvent &m = *s.spare;
  m.reader.reset();
  std::swap(m.bytes, scratch_);
  try {
    if (m.bytes.size() % sizeof(capnp::word) != 0) {
      throw std::runtime_error("size is not a multiple of 8");
    }
    kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word *>(m.bytes.data()),
                                          m.bytes.size() / sizeof(capnp::word));
    m.reader.emplace(words);
    m.event = m.reader->getRoot<Event>();
    if (m.event.which() != s.which) throw std::runtime_error("wrong union member");
  } catch (...) {
    // kj::Exception or ours: the message is unusable either way.
    ++s.bad_messages;
    return false;
  }
  std::swap(s.message, s.spare);

  s.seen = true;
  s.valid = m.event.getValid();
  s.log_mono_time = m.event.getLogMonoTime();
  s.rcv_time = now_ns;
  s.rcv_frame = frame_;
  s.rate.add(now_ns);
  return true;
}

void SubMaster::refresh(State &s, uint64_t now_ns) {
  double hz = s.service->frequency;
  if (hz <= 0.0) {
    s.alive = s.seen;
    s.freq_ok = true;
    return;
  }
  s.alive = s.seen && double(now_ns - s.rcv_time) < 10.0 / hz * 1e9;
  double mean = s.rate.mean_hz();
  s.freq_ok = s.alive && s.rate.count >= std::min<size_t>(s.rate.times.size(), 5) &&
              mean >= 0.8 * hz && mean <= 1.2 * hz;
}

template <class Pred>
bool SubMaster::all_of(const std::vector<std::string> &names, Pred pred) const {
  if (names.empty()) return std::all_of(states_.begin(), states_.end(), pred);
  return std::all_of(names.begin(), names.end(), [&](const std::string &n) { return pred(state(n)); });
}

bool SubMaster::allAlive(const std::vector<std::string> &names) const {
  return all_of(names, [](const State &s) { return s.alive || s.ignore_alive; });
}

bool SubMaster::allValid(const std::vector<std::string> &names) const {
  return all_of(names, [](const State &s) { return s.valid; });
}

bool SubMaster::allFreqOk(const std::vector<std::string> &names) const {
  return all_of(names, [](const State &s) { return s.freq_ok || s.ignore_alive; });
}

bool SubMaster::allAliveAndValid(const std::vector<std::string> &names) const {
  return allAlive(names) && allValid(names);
}

Event::Reader SubMaster::operator[](std::string_view name) const {
  const State &s = state(name);
  if (!s.message) return Event::Reader();
  return s.message->event;
}

}  // namespace cereal
