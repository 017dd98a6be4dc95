#pragma once
// The shared-memory backend of msgq.h: a publisher writes the topic's Ring,
// each subscriber holds one of its 64 slots and reads at its own pace.
#include <memory>
#include <vector>

#include "msgq/msgq.h"
#include "msgq/ring.h"

namespace msgq {

class ShmPubSocket final : public PubSocket {
 public:
  ShmPubSocket(const std::string &topic, size_t ring_size);
  ~ShmPubSocket() override;
  void send(const void *data, size_t size) override;
  void *loan(size_t size) override;
  void commit(size_t size) override;
  void cancel_loan() override { on_loan_ = false; }
  bool on_loan() const override { return on_loan_; }
  const std::string &topic() const override { return ring_.topic(); }
  int subscriber_count() const override;
  bool all_readers_updated() const override;
  bool wait_lockstep(int timeout_ms) override;

 private:
  struct Place {
    uint64_t start;  // where the message's header goes
    uint64_t pad;    // > 0: it goes to the next lap, behind a wrap marker at write_pos_
  };
  Place reserve(size_t size);
  void publish(Place at, size_t size);
  void adopt_committed_message();
  void make_newest(uint64_t start, uint64_t end);

  Ring ring_;
  uint64_t owner_;
  uint64_t write_pos_, seq_, oldest_pos_, declared_;  // the writer's own copies of header fields
  uint64_t next_mark_ = 0;                             // where the next eighth of the ring begins
  bool on_loan_ = false;
  Place loan_{};  // of the loan out
  std::vector<uint64_t> dead_owners_;  // lockstep subscribers found dead by wait_lockstep()
  size_t loan_size_ = 0;
};

class ShmSubSocket final : public SubSocket {
 public:
  ShmSubSocket(const std::string &topic, SubOptions opts);
  ~ShmSubSocket() override;
  bool receive(Message &msg, int timeout_ms) override;
  bool receive_view(MessageView &view, int timeout_ms) override;
  uint64_t lost() const override { return lost_; }
  const std::string &topic() const override { return ring_.topic(); }
  void done() override;

  // For the Poller.
  bool ready() const;
  std::atomic<uint32_t> *futex_word() const { return &ring_.header()->futex_word; }
  void set_sleeping(bool sleeping);
  bool lockstep() const { return opts_.lockstep; }

 private:
  enum ReadResult { kRead, kNothingYet, kLapped };
  // Out is a Message (copied out) or a MessageView (in place).
  template <class Out>
  bool try_read(Out &out);
  template <class Out>
  [[gnu::noinline]] bool wait_and_read(Out &out, int timeout_ms);
  template <class Out>
  ReadResult read_at(uint64_t pos, Out &out, uint64_t *next_pos);
  void take(Message &msg, const MessageHeader *m, uint32_t size, uint64_t pos);
  void take(MessageView &view, const MessageHeader *m, uint32_t size, uint64_t pos);
  void skip_to_newest();
  [[noreturn]] void damaged(const std::string &what);
  friend class ShmPoller;
  void check_after_timeout();
  static constexpr uint64_t kNoMark = UINT64_MAX;
  uint64_t half_a_ring_back() const;

  Ring ring_;
  SubOptions opts_;
  int slot_ = -1;
  uint64_t read_pos_, next_seq_;
  uint64_t resumed_at_ = UINT64_MAX;  // where it last resumed after being lapped (max: never)
  uint64_t lost_ = 0;
  uint64_t next_check_ns_ = 0;  // check_after_timeout() looks at most once a second
};

class ShmPoller final : public Poller {
 public:
  void add(SubSocket &sock) override;
  const std::vector<SubSocket *> &poll(int timeout_ms) override;

 private:
  std::vector<ShmSubSocket *> sockets_;
  std::vector<std::atomic<uint32_t> *> words_;  // sockets_[i]'s futex word
  std::vector<uint32_t> seen_;                  // its value before a wait
  std::vector<SubSocket *> ready_;
};

}  // namespace msgq
