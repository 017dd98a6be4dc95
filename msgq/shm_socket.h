#pragma once
// The shared-memory backend of msgq.h: a publisher writes the topic's Ring,
// each subscriber holds one of its 64 slots and reads at its own pace.
#include <memory>

#include "msgq/msgq.h"
#include "msgq/ring.h"

namespace msgq {

class ShmPubSocket final : public PubSocket {
 public:
  ShmPubSocket(const std::string &topic, size_t ring_size);
  ~ShmPubSocket() override;
  void send(const void *data, size_t size) override;
  const std::string &topic() const override { return ring_.topic(); }
  int subscriber_count() const override;

 private:
  void adopt_committed_message();
  void make_newest(uint64_t start, uint64_t end);

  Ring ring_;
  uint64_t owner_;
  uint64_t write_pos_, seq_, oldest_pos_, declared_;  // the writer's own copies of header fields
  uint64_t next_mark_ = 0;                             // where the next eighth of the ring begins
};

class ShmSubSocket final : public SubSocket {
 public:
  ShmSubSocket(const std::string &topic, SubOptions opts);
  ~ShmSubSocket() override;
  bool receive(Message &msg, int timeout_ms) override;
  uint64_t lost() const override { return lost_; }
  const std::string &topic() const override { return ring_.topic(); }

  // For the Poller.
  bool ready() const;
  std::atomic<uint32_t> *futex_word() const { return &ring_.header()->futex_word; }
  void set_sleeping(bool sleeping);

 private:
  enum ReadResult { kRead, kNothingYet, kLapped };
  bool try_read(Message &msg);
  [[gnu::noinline]] bool wait_and_read(Message &msg, int timeout_ms);
  ReadResult read_at(uint64_t pos, Message &msg, uint64_t *next_pos);
  void skip_to_newest();
  static constexpr uint64_t kNoMark = UINT64_MAX;
  uint64_t half_a_ring_back() const;

  Ring ring_;
  SubOptions opts_;
  int slot_ = -1;
  uint64_t read_pos_, next_seq_;
  uint64_t resumed_at_ = UINT64_MAX;  // where it last resumed after being lapped (max: never)
  uint64_t lost_ = 0;
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
