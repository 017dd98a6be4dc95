#include "msgq/shm_socket.h"

#include <algorithm>
#include <cstring>

#include "common/clock.h"
#include "common/prefix.h"
#include "msgq/futex.h"

namespace msgq {

// Copies a message out of the ring into a Message buffer (both 8-byte aligned,
// both padded to whole words). A receiver reads what it got at once, its first
// words first. memcpy moves a small message in 32- or 64-byte vector stores, and
// a load from inside one of those waits until the store reaches the cache,
// while a load from a 16- or 8-byte store is forwarded at once: small messages
// are copied in those (tools/bench/run messaging shows the difference).
static void copy_out(void *dst, const void *src, size_t size) {
  constexpr size_t kSmall = 512;
  if (size > kSmall) {
    memcpy(dst, src, size);
    return;
  }
  auto *d = static_cast<char *>(dst);
  const auto *s = static_cast<const char *>(src);
  size_t i = 0;
  for (; i + 16 <= size; i += 16) memcpy(d + i, s + i, 16);
  for (; i < size; i += 8) memcpy(d + i, s + i, 8);  // the last word or two, padding included
}

static int remaining_ms(uint64_t deadline_ns);
static uint64_t deadline_after(int timeout_ms);

// ---------------------------------------------------------------- publisher

// How far ahead of the bytes it overwrites the publisher declares them.
static uint64_t declare_step(uint64_t ring_bytes) { return std::min<uint64_t>(4096, ring_bytes / 16); }

ShmPubSocket::ShmPubSocket(const std::string &topic, size_t ring_size)
    : ring_(topic, ring_size), owner_(owner_word_of_self()) {
  RingHeader *h = ring_.header();
  uint64_t current = h->publisher.load();
  while (true) {
    if (current != 0 && owner_alive(current)) {
      throw MultiplePublishersError("msgq topic '" + topic + "' already has a live publisher (pid " +
                  std::to_string(current >> 32) + "); one publisher per topic");
    }
    if (h->publisher.compare_exchange_weak(current, owner_)) break;
  }
  // A restarted publisher continues where the previous one stopped, if the
  // marks it left are message boundaries within one ring of each other (a
  // publisher killed mid-send leaves them so; sending from anything else would
  // walk or write outside the ring).
  write_pos_ = h->write_pos.load(std::memory_order_acquire);
  seq_ = h->write_seq.load();
  oldest_pos_ = h->oldest_pos.load();
  declared_ = h->overwritten_upto.load();
  const uint64_t R = ring_.size();
  if ((write_pos_ | oldest_pos_ | declared_) % 16 != 0 || oldest_pos_ > write_pos_ || declared_ > write_pos_ ||
      write_pos_ - std::min(oldest_pos_, declared_) > R) {
    uint64_t mine = owner_;
    h->publisher.compare_exchange_strong(mine, 0);  // not ours after all
    throw Error("msgq topic '" + topic + "': corrupt ring header (write_pos " + std::to_string(write_pos_) +
                ", oldest_pos " + std::to_string(oldest_pos_) + ", overwritten_upto " + std::to_string(declared_) +
                "). Remove its shm file, or use another CONDUIT_PREFIX.");
  }
  adopt_committed_message();
}

// A publisher that died between committing a message (its header's size) and
// storing write_pos leaves a message readers may already have taken: count it
// as sent rather than write over it. At write_pos lies either that message (or
// the wrap marker pointing to it), or the empty header the send before wrote.
void ShmPubSocket::adopt_committed_message() {
  uint64_t start = write_pos_;
  const MessageHeader *wrap = ring_.message_at(start);
  if (wrap->size.load(std::memory_order_acquire) == kWrapMarker && wrap->seq == seq_) start = ring_.next_lap(start);
  const MessageHeader *m = ring_.message_at(start);
  const uint32_t size = m->size.load(std::memory_order_acquire);
  if (m->seq != seq_ || !ring_.fits(start, size)) return;
  make_newest(start, start + padded_size(size));
}

// The bookkeeping after a commit, for readers that attach, conflate or skip
// ahead, and for lapped readers (the marks).
void ShmPubSocket::make_newest(uint64_t start, uint64_t end) {
  RingHeader *h = ring_.header();
  write_pos_ = end;
  h->newest_pos.store(start, std::memory_order_relaxed);
  h->write_seq.store(++seq_, std::memory_order_relaxed);
  h->write_pos.store(end, std::memory_order_release);
  if (start >= next_mark_) {  // the first message in this eighth of the ring
    const uint64_t eighth = ring_.size() / 8;
    h->marks[(start / eighth) % 8].store(start, std::memory_order_release);
    next_mark_ = (start / eighth + 1) * eighth;
  }
}

ShmPubSocket::~ShmPubSocket() {
  uint64_t me = owner_;
  ring_.header()->publisher.compare_exchange_strong(me, 0);
}

bool ShmPubSocket::all_readers_updated() const {
  const RingHeader *h = ring_.header();
  const uint64_t sent = h->write_seq.load(std::memory_order_acquire);
  for (const SubscriberSlot &s : h->slots) {
    const uint64_t owner = s.owner.load();
    if (owner != 0 && s.read_seq.load(std::memory_order_acquire) < sent && owner_alive(owner)) return false;
  }
  return true;
}

// Sleeps on done_word in slices: a subscriber whose process died is noticed
// (and no longer counted) at the end of a slice, so the check for liveness
// stays off the path of a subscriber that answers at once.
bool ShmPubSocket::wait_lockstep(int timeout_ms) {
  constexpr int kSliceMs = 100;
  RingHeader *h = ring_.header();
  const uint64_t deadline = deadline_after(timeout_ms);
  for (bool check_alive = false;; check_alive = true) {
    const uint32_t seen = h->done_word.load(std::memory_order_seq_cst);
    const uint64_t sent = h->write_seq.load(std::memory_order_acquire);
    int waiting = 0, done = 0;
    for (const SubscriberSlot &s : h->slots) {
      const uint64_t owner = s.owner.load();
      if (owner == 0 || !s.lockstep.load(std::memory_order_acquire)) continue;
      const bool is_done = s.done_seq.load(std::memory_order_acquire) > sent;
      if (!is_done) {
        if (std::find(dead_owners_.begin(), dead_owners_.end(), owner) != dead_owners_.end()) continue;
        if (check_alive && !owner_alive(owner)) {
          dead_owners_.push_back(owner);  // its slot stays until reclaimed: never wait on it again
          continue;
        }
      }
      waiting++;
      done += is_done;
    }
    if (waiting > 0 && done == waiting) return true;
    const int left = remaining_ms(deadline);
    if (left == 0 || timeout_ms == 0) return false;
    futex_wait(&h->done_word, seen, left < 0 ? kSliceMs : std::min(left, kSliceMs));
  }
}

int ShmPubSocket::subscriber_count() const {
  int n = 0;
  for (const SubscriberSlot &s : ring_.header()->slots) n += owner_alive(s.owner.load());
  return n;
}

[[noreturn, gnu::noinline]] static void loan_is_out(const std::string &topic) {
  throw Error("msgq topic '" + topic + "': a loan is out (a message being built in place); commit() or cancel_loan() it "
              "first: one loan per topic at a time");
}

// Where a message of `size` bytes goes, with everything it will overwrite
// declared so: the bytes from there on are the publisher's until it commits.
[[gnu::always_inline]] inline ShmPubSocket::Place ShmPubSocket::reserve(size_t size) {
  RingHeader *h = ring_.header();
  const uint64_t R = ring_.size();
  if (size > max_message_size(R)) {
    throw Error("msgq topic '" + topic() + "': message of " + std::to_string(size) +
                " bytes exceeds the largest this ring allows (" + std::to_string(max_message_size(R)) + ")");
  }
  if (h->publisher.load(std::memory_order_relaxed) != owner_) {
    throw Error("msgq topic '" + topic() + "': this publisher was replaced by pid " +
                std::to_string(h->publisher.load() >> 32));
  }
  if (on_loan_) loan_is_out(topic());
  const uint64_t need = padded_size(size);
  const uint64_t off = ring_.offset(write_pos_);
  const uint64_t pad = off + need > R ? R - off : 0;
  const uint64_t start = write_pos_ + pad, end = start + need;

  // Declare the bytes about to be overwritten (up to the empty header after
  // this message), and move `oldest` past them, before touching them. The
  // declaration runs a step ahead, so most sends skip these two stores and
  // their release fence.
  const uint64_t touched = end + sizeof(MessageHeader);
  const uint64_t limit = touched > R ? touched - R : 0;
  if (limit > declared_) {
    // Never past the messages written so far: beyond them lies an older lap.
    declared_ = std::min(limit + declare_step(R), write_pos_);
    while (oldest_pos_ < declared_) {
      const uint32_t oldest_size = ring_.message_at(oldest_pos_)->size.load(std::memory_order_relaxed);
      oldest_pos_ = oldest_size == kWrapMarker ? ring_.next_lap(oldest_pos_) : oldest_pos_ + padded_size(oldest_size);
    }
    h->overwritten_upto.store(declared_, std::memory_order_relaxed);
    h->oldest_pos.store(oldest_pos_, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }
  return {start, pad};
}

// Commits the message of `size` bytes whose payload lies written at `at`.
// The empty header after it first, then the message's header: a reader that
// sees the size sees the rest. A wrap marker goes last, once the message it
// points to is complete.
[[gnu::always_inline]] inline void ShmPubSocket::publish(Place at, size_t size) {
  RingHeader *h = ring_.header();
  const uint64_t end = at.start + padded_size(size);
  MessageHeader *m = ring_.message_at(at.start);
  ring_.message_at(end)->size.store(kNoMessageYet, std::memory_order_relaxed);
  m->seq = seq_;
  m->size.store(uint32_t(size), std::memory_order_release);
  if (at.pad) {
    MessageHeader *wrap = ring_.message_at(write_pos_);
    wrap->seq = seq_;
    wrap->size.store(kWrapMarker, std::memory_order_release);
  }
  make_newest(at.start, end);

  h->futex_word.fetch_add(1, std::memory_order_seq_cst);
  // Clearing the bits makes this the only wake for those sleepers: a woken
  // subscriber that is slow to run would otherwise cost a FUTEX_WAKE per send.
  // Each sleeper sets its bit again before it next waits.
  if (h->sleepers.load(std::memory_order_seq_cst) != 0 && h->sleepers.exchange(0) != 0) {
    futex_wake_all(&h->futex_word);
  }
}

void ShmPubSocket::send(const void *data, size_t size) {
  const Place at = reserve(size);
  // An empty message may come as (nullptr, 0).
  if (size) memcpy(static_cast<void *>(ring_.message_at(at.start) + 1), data, size);
  publish(at, size);
}

// A loan is a reserved place whose payload the caller writes: readers stop at
// the empty header before it (or before its wrap marker) until commit().
void *ShmPubSocket::loan(size_t size) {
  loan_ = reserve(size);
  loan_size_ = size;
  on_loan_ = true;
  return ring_.message_at(loan_.start) + 1;
}

void ShmPubSocket::commit(size_t size) {
  if (!on_loan_) throw Error("msgq topic '" + topic() + "': commit() without a loan");
  if (size > loan_size_) {
    throw Error("msgq topic '" + topic() + "': commit() of " + std::to_string(size) + " bytes exceeds the loan of " +
                std::to_string(loan_size_));
  }
  if (ring_.header()->publisher.load(std::memory_order_relaxed) != owner_) {
    on_loan_ = false;
    throw Error("msgq topic '" + topic() + "': this publisher was replaced by pid " +
                std::to_string(ring_.header()->publisher.load() >> 32) + " during a loan");
  }
  on_loan_ = false;
  publish(loan_, size);
}

// ---------------------------------------------------------------- subscriber

ShmSubSocket::ShmSubSocket(const std::string &topic, SubOptions opts) : ring_(topic, opts.ring_size), opts_(opts) {
  RingHeader *h = ring_.header();
  const uint64_t me = owner_word_of_self();
  // A free slot first; only when none is free, one whose owner died.
  for (int pass = 0; pass < 2 && slot_ < 0; pass++) {
    for (int i = 0; i < kMaxSubscribers && slot_ < 0; i++) {
      uint64_t cur = h->slots[i].owner.load();
      bool takeable = pass == 0 ? cur == 0 : !owner_alive(cur);
      if (takeable && h->slots[i].owner.compare_exchange_strong(cur, me)) slot_ = i;
    }
  }
  if (slot_ < 0) {
    throw Error("msgq topic '" + topic + "': all " + std::to_string(kMaxSubscribers) +
                " subscriber slots are held by live processes");
  }
  h->sleepers.fetch_and(~(uint64_t(1) << slot_));
  read_pos_ = h->write_pos.load(std::memory_order_acquire);
  next_seq_ = h->write_seq.load(std::memory_order_relaxed);
  h->slots[slot_].read_seq.store(next_seq_, std::memory_order_relaxed);
  // Not done with anything until it first waits (or calls done()).
  h->slots[slot_].done_seq.store(0, std::memory_order_relaxed);
  h->slots[slot_].lockstep.store(opts.lockstep, std::memory_order_release);
}

void ShmSubSocket::done() {
  if (!opts_.lockstep) return;
  RingHeader *h = ring_.header();
  h->slots[slot_].done_seq.store(next_seq_ + 1, std::memory_order_release);
  h->done_word.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(&h->done_word);
}

ShmSubSocket::~ShmSubSocket() {
  RingHeader *h = ring_.header();
  h->sleepers.fetch_and(~(uint64_t(1) << slot_));
  h->slots[slot_].lockstep.store(0);
  h->slots[slot_].owner.store(0);
  if (opts_.lockstep) {  // a publisher waiting for it stops counting it
    h->done_word.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(&h->done_word);
  }
}

void ShmSubSocket::set_sleeping(bool sleeping) {
  uint64_t bit = uint64_t(1) << slot_;
  if (sleeping) {
    ring_.header()->sleepers.fetch_or(bit, std::memory_order_seq_cst);
  } else {
    ring_.header()->sleepers.fetch_and(~bit, std::memory_order_relaxed);
  }
}

bool ShmSubSocket::ready() const {
  RingHeader *h = ring_.header();
  if (opts_.conflate) return h->write_pos.load(std::memory_order_acquire) > read_pos_;
  // Bytes that read as no message yet may be a newer lap's: then it is lapped, and ready.
  return ring_.message_at(read_pos_)->size.load(std::memory_order_acquire) != kNoMessageYet ||
         h->overwritten_upto.load(std::memory_order_acquire) > read_pos_;
}

// Milliseconds left until deadline_ns (rounded up; 0 once past), or -1 for no deadline.
static int remaining_ms(uint64_t deadline_ns) {
  if (!deadline_ns) return -1;
  uint64_t now = conduit::mono_ns();
  return now >= deadline_ns ? 0 : int((deadline_ns - now + 999999) / 1000000);
}

static uint64_t deadline_after(int timeout_ms) {
  return timeout_ms > 0 ? conduit::mono_ns() + uint64_t(timeout_ms) * 1000000 : 0;
}

// After damage in the ring: resume after the newest message, counting what is skipped.
void ShmSubSocket::skip_to_newest() {
  RingHeader *h = ring_.header();
  // write_seq first: messages published after it and before read_pos_ are
  // counted as lost when the next message shows its sequence number.
  uint64_t seq = h->write_seq.load(std::memory_order_acquire);
  read_pos_ = h->write_pos.load(std::memory_order_acquire);
  lost_ += seq - next_seq_;
  next_seq_ = seq;
}

// Resumes after the newest message and says why: a subscriber never goes quiet
// over damage without an error.
void ShmSubSocket::damaged(const std::string &what) {
  skip_to_newest();
  throw Error("msgq topic '" + topic() + "': " + what + "; skipped to the newest message");
}

// After a wait that timed out (out of the hot path, at most once a second):
// silence because the ring is gone or damaged must not look like an idle topic.
void ShmSubSocket::check_after_timeout() {
  const uint64_t now = conduit::mono_ns();
  if (now < next_check_ns_) return;
  next_check_ns_ = now + 1'000'000'000;
  if (ring_.replaced()) {
    throw Error("msgq topic '" + topic() + "': its shm file " + ring_.path() +
                " was removed or replaced since this subscriber attached; it would never receive again: "
                "create the subscriber anew");
  }
  RingHeader *h = ring_.header();
  const uint64_t write_pos = h->write_pos.load(std::memory_order_acquire);
  const uint64_t upto = h->overwritten_upto.load(std::memory_order_acquire);
  if (upto > write_pos || read_pos_ > write_pos + ring_.size()) {
    damaged("ring header damaged (write position " + std::to_string(write_pos) + ", overwritten up to " +
            std::to_string(upto) + ", this reader at " + std::to_string(read_pos_) + ")");
  }
}

[[gnu::always_inline]] inline void ShmSubSocket::take(Message &msg, const MessageHeader *m, uint32_t size, uint64_t) {
  copy_out(msg.resize(size), m + 1, size);
}

[[gnu::always_inline]] inline void ShmSubSocket::take(MessageView &view, const MessageHeader *m, uint32_t size, uint64_t pos) {
  view.data_ = reinterpret_cast<const char *>(m + 1);
  view.size_ = size;
  view.pos_ = pos;
  view.overwritten_upto_ = &ring_.header()->overwritten_upto;
  view.lost_ = &lost_;
}

// Takes the message starting at `pos` into out (a copy, or a view whose
// header was intact when taken).
template <class Out>
ShmSubSocket::ReadResult ShmSubSocket::read_at(uint64_t pos, Out &out, uint64_t *next_pos) {
  RingHeader *h = ring_.header();
  // Seqlock check: everything read from `pos` on is valid only if this holds afterwards.
  auto intact = [&] {
    std::atomic_thread_fence(std::memory_order_acquire);
    return h->overwritten_upto.load(std::memory_order_relaxed) <= pos;
  };
  while (true) {
    if (h->overwritten_upto.load(std::memory_order_acquire) > pos) return kLapped;
    // Positions come from the shared header too: one off a message boundary is
    // corruption (its header could even straddle the end of the mapping).
    if (pos % 16 != 0) {
      skip_to_newest();
      throw Error("msgq topic '" + topic() + "': corrupt read position " + std::to_string(pos) +
                  " (not a message boundary); skipped to the newest message");
    }
    const MessageHeader *m = ring_.message_at(pos);
    const uint32_t size = m->size.load(std::memory_order_acquire);
    if (size == kNoMessageYet) return intact() ? kNothingYet : kLapped;
    if (size == kWrapMarker) {
      if (!intact()) return kLapped;
      // Every message fits at a lap's start: a marker there is corruption, and
      // following it would go round the ring forever.
      if (ring_.offset(pos) == 0) {
        skip_to_newest();
        throw Error("msgq topic '" + topic() + "': corrupt wrap marker at the start of the ring; skipped to the newest message");
      }
      pos = ring_.next_lap(pos);
      continue;
    }
    if (!ring_.fits(pos, size)) {
      if (!intact()) return kLapped;
      skip_to_newest();
      throw Error("msgq topic '" + topic() + "': corrupt message header at offset " + std::to_string(ring_.offset(pos)) +
                  " (size " + std::to_string(size) + "); skipped to the newest message");
    }
    const uint64_t seq = m->seq;
    take(out, m, size, pos);
    if (!intact()) return kLapped;
    out.set_seq(seq);
    *next_pos = pos + padded_size(size);
    return kRead;
  }
}

// The earliest message the writer marked within the last half ring, or
// kNoMark. Marks further back are a lap old (or about to be).
uint64_t ShmSubSocket::half_a_ring_back() const {
  RingHeader *h = ring_.header();
  const uint64_t end = h->write_pos.load(std::memory_order_acquire);
  const uint64_t from = end > ring_.size() / 2 ? end - ring_.size() / 2 : 0;
  uint64_t best = kNoMark;
  for (const auto &mark : h->marks) {
    const uint64_t pos = mark.load(std::memory_order_acquire);
    if (pos >= from && pos <= end) best = std::min(best, pos);
  }
  return best;
}

template <class Out>
bool ShmSubSocket::try_read(Out &msg) {
  RingHeader *h = ring_.header();
  bool to_newest = opts_.conflate;
  for (int laps = 0;; laps++) {
    // A healthy ring laps a read a few times at most, even with the writer
    // flat out; more means its marks are damaged, and the loop would never end.
    if (laps == 64) damaged("lapped 64 times in one read (ring header damaged)");
    // Only the newest message needs write_pos: `>=`, not `==`, as the writer
    // stores newest_pos before write_pos, so a reader that took the newest
    // message can be ahead of write_pos for a moment, where the bytes are
    // still the previous lap's.
    if (to_newest && read_pos_ >= h->write_pos.load(std::memory_order_acquire)) return false;
    uint64_t pos = to_newest ? h->newest_pos.load(std::memory_order_relaxed) : read_pos_;
    uint64_t next_pos;
    const ReadResult r = read_at(pos, msg, &next_pos);
    if (r == kNothingYet) return false;
    if (r == kLapped) {
      // Resume at the oldest message still intact. Lapped again within half a
      // ring of the last resume, the reader does not keep up: at the oldest
      // message it would only meet the writer overwriting it, message after
      // message. It resumes about half a ring behind the writer instead, in
      // bytes the writer has left and will not reach for a while; failing
      // that (or lapped three times in a row), at the newest message.
      const bool chasing = read_pos_ >= resumed_at_ && read_pos_ - resumed_at_ < ring_.size() / 2;
      uint64_t resume = std::max(read_pos_, h->oldest_pos.load(std::memory_order_acquire));
      if (laps == 1 || (laps == 0 && chasing)) resume = std::max(resume, half_a_ring_back());
      to_newest = opts_.conflate || laps >= 2 || resume == kNoMark;
      if (!to_newest) read_pos_ = resumed_at_ = resume;
      continue;
    }
    if (msg.seq() < next_seq_) {  // sequence numbers only grow: the ring is damaged
      uint64_t expected = next_seq_;
      skip_to_newest();
      throw Error("msgq topic '" + topic() + "': message sequence went back from " + std::to_string(expected) +
                  " to " + std::to_string(msg.seq()) + "; skipped to the newest message");
    }
    lost_ += msg.seq() - next_seq_;
    next_seq_ = msg.seq() + 1;
    read_pos_ = next_pos;
    h->slots[slot_].read_seq.store(next_seq_, std::memory_order_relaxed);
    return true;
  }
}

bool ShmSubSocket::receive(Message &msg, int timeout_ms) {
  if (try_read(msg)) return true;
  return timeout_ms != 0 && wait_and_read(msg, timeout_ms);
}

bool ShmSubSocket::receive_view(MessageView &view, int timeout_ms) {
  if (try_read(view)) return true;
  return timeout_ms != 0 && wait_and_read(view, timeout_ms);
}

// Out of line: a subscriber that polls or streams never comes here.
// Lockstep waits (msgq.h) have no deadline; they sleep in slices, to see
// stop_lockstep_waits() from a signal that came just before a wait began.
constexpr int kLockstepSliceMs = 100;

template <class Out>
bool ShmSubSocket::wait_and_read(Out &msg, int timeout_ms) {
  RingHeader *h = ring_.header();
  const bool lockstep = opts_.lockstep;
  if (lockstep) done();
  const uint64_t deadline = lockstep ? 0 : deadline_after(timeout_ms);
  while (true) {
    if (lockstep && lockstep_waits_stopped()) return false;
    set_sleeping(true);
    uint32_t seen = h->futex_word.load(std::memory_order_seq_cst);
    bool got = try_read(msg);
    int wait_ms = got ? 0 : (lockstep ? kLockstepSliceMs : remaining_ms(deadline));
    const bool interrupted = wait_ms != 0 && futex_wait(&h->futex_word, seen, wait_ms);
    set_sleeping(false);
    if (got || try_read(msg)) return true;
    if (lockstep) {
      if (interrupted) return false;
      continue;
    }
    if (wait_ms == 0) {
      check_after_timeout();
      return false;
    }
  }
}

// ---------------------------------------------------------------- poller

void ShmPoller::add(SubSocket &sock) {
  auto *s = dynamic_cast<ShmSubSocket *>(&sock);
  if (!s) throw Error("msgq Poller: socket for '" + sock.topic() + "' is not a shared-memory socket");
  if (sockets_.size() >= kMaxWaitWords) {
    throw Error("msgq Poller: at most " + std::to_string(kMaxWaitWords) + " sockets per poller");
  }
  sockets_.push_back(s);
  words_.push_back(s->futex_word());
  seen_.push_back(0);
}

const std::vector<SubSocket *> &ShmPoller::poll(int timeout_ms) {
  ready_.clear();
  auto collect = [&] {
    for (ShmSubSocket *s : sockets_) {
      if (s->ready()) ready_.push_back(s);
    }
    return !ready_.empty();
  };
  if (collect() || timeout_ms == 0 || sockets_.empty()) return ready_;

  bool lockstep = false;
  for (ShmSubSocket *s : sockets_) {
    s->done();
    lockstep |= s->lockstep();
  }
  const uint64_t deadline = lockstep ? 0 : deadline_after(timeout_ms);
  while (true) {
    if (lockstep && lockstep_waits_stopped()) return ready_;
    for (size_t i = 0; i < sockets_.size(); i++) {
      sockets_[i]->set_sleeping(true);
      seen_[i] = words_[i]->load(std::memory_order_seq_cst);
    }
    bool got = collect();
    int wait_ms = got ? 0 : (lockstep ? kLockstepSliceMs : remaining_ms(deadline));
    const bool interrupted = wait_ms != 0 && futex_wait_any(words_.data(), seen_.data(), words_.size(), wait_ms);
    for (ShmSubSocket *s : sockets_) s->set_sleeping(false);
    if (got || collect() || (interrupted && lockstep)) return ready_;
    if (lockstep) continue;
    if (wait_ms == 0) {
      for (ShmSubSocket *s : sockets_) s->check_after_timeout();
      return ready_;
    }
  }
}

}  // namespace msgq
