#pragma once
// The head of a received Event (union tag, valid, logMonoTime), read in place
// off the wire layout for the shape every publisher here produces, with
// capnp's reader as the fallback for anything else. SubMaster's receive path:
// inline, so a message costs a few loads. Internal to cereal.
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "cereal/messaging.h"

namespace cereal::detail {

// event_data() reads the wire format, which is little-endian, in place.
static_assert(std::endian::native == std::endian::little);

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

// Throws std::logic_error when cereal/log.capnp moved what kEventLayout names.
void check_event_layout();

// The Event union discriminant whose member is named `name`; throws
// std::invalid_argument when log.capnp has no such member.
Event::Which event_which(std::string_view name);

// The root Event's data section when `bytes` has the shape every publisher
// here produces: one segment filling the message, a struct root pointer to a
// struct inside it whose data section holds the union tag, valid and
// logMonoTime. nullptr for anything else; capnp's reader then decides. What is
// accepted here passes capnp's own checks of the root (segment table, pointer
// kind, bounds), so setting up a reader later cannot fail, and everything
// below the root stays bounds-checked by capnp when it is read.
inline const kj::byte *event_data(const char *bytes, size_t size) {
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
inline T load(const kj::byte *p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Sets up m's capnp reader and root Event over its bytes. capnp checks the
// segment table and the root pointer, and throws kj::Exception when they are
// not a message.
inline void open_reader(ReceivedEvent &m) {
  m.reader.emplace(m.words());
  m.event = m.reader->getRoot<Event>();
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
[[gnu::noinline]] inline std::optional<EventHead> read_unusual_head(ReceivedEvent &m) {
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
inline std::optional<EventHead> read_head(ReceivedEvent &m, const char *bytes, size_t size) {
  const kj::byte *data = event_data(bytes, size);
  if (data == nullptr) return read_unusual_head(m);
  const EventLayout &l = kEventLayout;
  return EventHead{static_cast<Event::Which>(load<uint16_t>(data + l.which_byte)),
                   (data[l.valid_byte] & l.valid_mask) == 0,  // stored XOR its default, true
                   load<uint64_t>(data + l.mono_byte)};       // default 0
}

}  // namespace cereal::detail
