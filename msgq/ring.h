#pragma once
// The shared-memory ring of one topic: the layout in the shm file and the two
// roles that touch it: one writer (ShmPubSocket) per topic, many readers (ShmSubSocket).
//
// Layout: an 8 KiB header, then `ring_bytes` of data. Positions are virtual
// (monotonic byte counters); the ring offset is pos % ring_bytes. A message is
// a 16-byte MessageHeader + payload, padded to 16 bytes. A message that would
// cross the end of the ring is preceded by a wrap marker filling the rest.
//
// Commit: the writer ends every message with an empty header (size
// kNoMessageYet) where the next one will start, and stores a message's own
// size last. So a reader that has caught up watches the header at its read
// position, a line the message brings anyway, and never the writer's
// per-send bookkeeping (write_pos & co.): one line moves between the cores per
// message, not two. A publisher killed between its commit and write_pos leaves
// a message that the next publisher adopts.
//
// Torn-read protection (seqlock style): before overwriting bytes the writer
// raises `overwritten_upto`; everything below it may be garbage. A reader copies
// a message out and then checks that its start is still at or above that mark.
//
// Wake-up: every publish bumps `futex_word`; the writer issues FUTEX_WAKE only
// when a bit in `sleepers` (one per subscriber slot) says somebody is asleep.
#include <atomic>
#include <cstdint>
#include <string>

#include "msgq/msgq.h"

namespace msgq {

constexpr uint64_t kRingMagic = 0x3151474d54444e43ull;  // "CNDTMGQ1"
constexpr uint32_t kRingVersion = 3;
constexpr size_t kHeaderBytes = 8192;
constexpr uint32_t kWrapMarker = 0xffffffffu;
constexpr uint32_t kNoMessageYet = 0xfffffffeu;

struct MessageHeader {
  uint64_t seq;
  std::atomic<uint32_t> size;  // payload bytes, kWrapMarker or kNoMessageYet; stored last
  uint32_t reserved;
};
static_assert(sizeof(MessageHeader) == 16);

struct alignas(64) SubscriberSlot {
  std::atomic<uint64_t> owner;     // pid << 32 | low 32 bits of start ticks; 0 = free
  std::atomic<uint64_t> read_seq;  // next seq this subscriber wants (for tools)
  // Lockstep subscribers (msgq.h) only: 0 until it first waits, then done with
  // every message below done_seq - 1.
  std::atomic<uint64_t> done_seq;
  std::atomic<uint32_t> lockstep;
};

struct RingHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t header_bytes;
  uint64_t ring_bytes;
  std::atomic<uint64_t> publisher;  // owner word of the live publisher, 0 = none

  // Written on every send; read to attach, to conflate, to skip ahead.
  alignas(64) std::atomic<uint64_t> write_pos;  // end of the newest message
  std::atomic<uint64_t> write_seq;              // messages published so far
  std::atomic<uint64_t> newest_pos;             // start of the newest message

  // Written once per few KiB of sends, read on every receive: a line of their
  // own stays cached by the readers instead of moving between cores per message.
  alignas(64) std::atomic<uint64_t> overwritten_upto;  // bytes below may be overwritten
  std::atomic<uint64_t> oldest_pos;                    // start of the oldest intact message

  // The start of the first message in each eighth of the ring, as of its last
  // lap: a lapped reader that does not keep up resumes about half a ring
  // behind the writer, at one of these. Written once per eighth.
  alignas(64) std::atomic<uint64_t> marks[8];

  alignas(64) std::atomic<uint32_t> futex_word;
  std::atomic<uint64_t> sleepers;  // bit i: subscriber slot i is (about to be) asleep

  // Bumped by a lockstep subscriber when it is done; a publisher in wait_lockstep() sleeps on it.
  alignas(64) std::atomic<uint32_t> done_word;

  SubscriberSlot slots[kMaxSubscribers];
};
static_assert(sizeof(RingHeader) <= kHeaderBytes);

// Bytes a message of `payload` bytes takes in the ring, header and padding included.
inline uint64_t padded_size(uint64_t payload) { return (sizeof(MessageHeader) + payload + 15) & ~uint64_t(15); }

uint64_t owner_word_of_self();
bool owner_alive(uint64_t owner);

// An open mapping of a topic's shm file (created if missing, validated if not).
class Ring {
 public:
  Ring(const std::string &topic, size_t ring_bytes);
  ~Ring();
  Ring(const Ring &) = delete;
  Ring &operator=(const Ring &) = delete;

  RingHeader *header() const { return header_; }
  char *data() const { return data_; }
  uint64_t size() const { return bytes_; }
  // Where virtual position `pos` lies in the data. A mask for the usual
  // power-of-two ring: a 64-bit division per message costs more than the
  // rest of the bookkeeping.
  uint64_t offset(uint64_t pos) const { return mask_ != 0 ? pos & mask_ : pos % bytes_; }
  // The header (of a message, a wrap marker or no message yet) at virtual position `pos`.
  MessageHeader *message_at(uint64_t pos) const { return reinterpret_cast<MessageHeader *>(data_ + offset(pos)); }
  // Where the ring's next lap begins after `pos`: past a wrap marker at `pos`.
  uint64_t next_lap(uint64_t pos) const { return pos + bytes_ - offset(pos); }
  // Whether a header's size can describe a message at `pos`: within the
  // largest message this ring allows, and not past the ring's end.
  bool fits(uint64_t pos, uint32_t size) const {
    return size <= max_message_size(bytes_) && offset(pos) + padded_size(size) <= bytes_;
  }
  const std::string &topic() const { return topic_; }
  const std::string &path() const { return path_; }
  // The topic's path no longer names the file mapped here: removed, or replaced
  // by another (a subscriber of this one would never receive again). A stat().
  bool replaced() const;

 private:
  std::string topic_;
  std::string path_;  // as opened: the prefix is read once, when the ring is attached
  uint64_t dev_ = 0, ino_ = 0;  // of the file mapped
  RingHeader *header_ = nullptr;
  char *data_ = nullptr;
  size_t mapped_bytes_ = 0;
  uint64_t bytes_ = 0, mask_ = 0;  // ring_bytes, and ring_bytes - 1 when it is a power of two
};

}  // namespace msgq
