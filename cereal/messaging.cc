#include "cereal/messaging.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "cereal/event_head.h"
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
  // cppcheck-suppress mismatchingContainerExpression ; asks whether the segment is the pooled one
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
  // cppcheck-suppress mismatchingContainerExpression ; asks whether the segment is the loan
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
    detail::event_which(name);
    sockets_.emplace_back(name, msgq::PubSocket::create(name, s.ring_size));
  }
}

void PubMaster::not_published(std::string_view name) {
  throw std::invalid_argument("PubMaster does not publish '" + std::string(name) + "'");
}

}  // namespace cereal
