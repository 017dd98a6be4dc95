// Loans and views on the shared-memory backend: never torn, exact counts,
// killed holders and killed lenders.
#include <gtest/gtest.h>

#include "msgq/msgq.h"
#include "msgq/ring.h"
#include "msgq/tests/test_env.h"

using namespace msgq;
using namespace msgq_test;

namespace {

// Publishes message `seq` of `size` bytes built in a loan.
void publish_loaned(PubSocket &pub, uint64_t seq, size_t size) {
  fill_payload(static_cast<char *>(pub.loan(size)), seq, size);
  pub.commit(size);
}

}  // namespace

// A view the publisher laps says so, once, and counts in lost() once.
TEST(MsgqLoan, LappedViewReportsOverwrittenAndCountsOnce) {
  ScopedPrefix prefix("lapview");
  auto pub = PubSocket::create("lapview", 16384);
  auto sub = SubSocket::create("lapview", {.ring_size = 16384});
  publish_loaned(*pub, 0, 1000);
  MessageView v;
  ASSERT_TRUE(sub->receive_view(v, 0));
  EXPECT_TRUE(v.intact());
  for (uint64_t i = 1; i <= 20; i++) publish_loaned(*pub, i, 1000);  // over a lap
  uint64_t seq = 0;
  EXPECT_FALSE(v.intact());
  EXPECT_FALSE(v.intact());
  EXPECT_EQ(sub->lost(), 1u);
  size_t received = 0;
  while (sub->receive_view(v, 0)) {
    ASSERT_TRUE(check_payload(v.data(), v.size(), &seq));
    ASSERT_TRUE(v.intact());
    ASSERT_EQ(seq, v.seq());
    received++;
  }
  EXPECT_EQ(seq, 20u);
  EXPECT_EQ(received + sub->lost(), 21u);
}

// Readers in two processes hold views while a publisher floods a small ring
// with loans. Every view either checks whole or is reported overwritten; a
// checksum that fails on a view reported intact would be a torn read. Views
// held until the publisher is a lap further must all be reported overwritten.
// Whole views plus lost() add up to what was sent.
TEST(MsgqLoan, FloodedViewsAreWholeOrReportedOverwritten) {
  ScopedPrefix prefix("flood");
  const uint64_t R = 64 * 1024, N = 30000;
  Ring ring("flood", R);
  auto reader = [&](Signal &ready, int hold_every) {
    return [&, hold_every]() -> int {
      auto sub = SubSocket::create("flood", {.ring_size = R});
      ready.post();
      MessageView v;
      uint64_t whole = 0, overwritten = 0, held = 0, seq = 0, last = 0;
      for (uint64_t n = 0;; n++) {
        if (!sub->receive_view(v, 10000)) return 10;
        if (v.size() == 0) break;  // the end
        const bool sums = check_payload(v.data(), v.size(), &seq);
        if (hold_every && n % hold_every == 0 && v.seq() + 20 < N) {
          // Hold the view until the publisher has written a ring and a half past it.
          const uint64_t until = v.seq() + 20;
          while (ring.header()->write_seq.load() < until) sched_yield();
          held++;
          if (v.intact()) return 11;  // lapped, and not reported
          overwritten++;
          continue;
        }
        if (!v.intact()) {
          overwritten++;
          continue;
        }
        if (!sums) return 12;  // torn, and reported intact
        if (seq != v.seq() || (whole > 0 && seq <= last)) return 13;
        last = seq;
        whole++;
      }
      if (v.seq() != N) return 14;
      if (whole + sub->lost() != N) return 15;  // lost() counts the overwritten views too
      if (overwritten > sub->lost()) return 16;
      if (whole == 0 || (hold_every && held == 0)) return 17;
      return 0;
    };
  };
  Signal ready_holding, ready_reading;
  Child holding(reader(ready_holding, 50));
  Child reading(reader(ready_reading, 0));
  ready_holding.wait();
  ready_reading.wait();
  auto pub = PubSocket::create("flood", R);
  for (uint64_t i = 0; i < N; i++) publish_loaned(*pub, i, 4096 + (i * 7919) % 8192);
  pub->send("", 0);
  EXPECT_EQ(holding.wait(), 0) << "10 timed out, 11 lapped view reported intact, 12 torn, 13 out of order, "
                                  "14 wrong end, 15 miscounted, 16 overcounted, 17 nothing exercised";
  EXPECT_EQ(reading.wait(), 0);
}

// The publisher does not know who holds views: a subscriber killed while
// holding one stalls nothing, and its slot is reclaimed.
TEST(MsgqLoan, SubscriberKilledHoldingAViewStallsNothing) {
  ScopedPrefix prefix("heldkill");
  const uint64_t R = 64 * 1024;
  auto pub = PubSocket::create("heldkill", R);
  auto observer = SubSocket::create("heldkill", {.ring_size = R});
  Signal attached, holding;
  Child holder([&] {
    auto sub = SubSocket::create("heldkill", {.ring_size = R});
    attached.post();
    MessageView v;
    if (!sub->receive_view(v, 10000)) return 1;
    holding.post();
    pause();  // holds the view until killed
    return 0;
  });
  attached.wait();
  publish_loaned(*pub, 0, 8192);
  holding.wait();
  uint64_t sent = 1;
  for (; sent < 200; sent++) publish_loaned(*pub, sent, 8192);  // 25 laps past the held view
  EXPECT_EQ(pub->subscriber_count(), 2);
  holder.stop(SIGKILL);
  for (; sent < 400; sent++) publish_loaned(*pub, sent, 8192);
  EXPECT_EQ(pub->subscriber_count(), 1);
  MessageView v;
  uint64_t received = 0, seq = 0;
  while (observer->receive_view(v, 0)) {
    ASSERT_TRUE(check_payload(v.data(), v.size(), &seq));
    ASSERT_TRUE(v.intact());
    received++;
  }
  EXPECT_EQ(seq, sent - 1);
  EXPECT_EQ(received + observer->lost(), sent);
}

// A publisher killed holding a loan, with bytes in it that look like messages
// (headers, valid checksums): nothing of it is readable, as a copy, a view or
// to a Poller; the next publisher continues the sequence and nothing more is lost.
// Once with the loan right after the last message, once behind a wrap.
TEST(MsgqLoan, PublisherKilledMidLoanLeavesNothingReadable) {
  ScopedPrefix prefix("loankill");
  const uint64_t R = 16384;
  Ring ring("loankill", R);
  auto sub = SubSocket::create("loankill", {.ring_size = R});
  auto poller = Poller::create();
  poller->add(*sub);
  Message m;
  MessageView v;
  uint64_t seq;
  for (int wrap = 0; wrap < 2; wrap++) {
    const uint64_t base = ring.header()->write_seq.load();
    Child lender([&] {
      auto pub = PubSocket::create("loankill", R);
      publish_loaned(*pub, base, 1000);
      if (wrap) {  // up to near the ring's end, so the loan goes behind a wrap marker
        while (ring.header()->write_pos.load() % R < R - 3000) publish_loaned(*pub, base, 1000);
      }
      const size_t size = 6000;
      char *p = static_cast<char *>(pub->loan(size));
      // Plausible messages all through it: a header (the next seq) and a payload that checks.
      for (size_t off = 0; off + 64 <= size; off += 64) {
        MessageHeader fake{};
        fake.seq = ring.header()->write_seq.load();
        fake.size.store(48);
        memcpy(p + off, &fake, sizeof(fake));
        fill_payload(p + off + sizeof(fake), base, 48);
      }
      raise(SIGKILL);
      return 0;
    });
    EXPECT_EQ(lender.wait(), 128 + SIGKILL);
    uint64_t received = 0;
    while (sub->receive(m, 0)) {
      ASSERT_TRUE(check_payload(m.data(), m.size(), &seq));
      received++;
    }
    EXPECT_GT(received, 0u);
    const uint64_t lost = sub->lost();  // while the lender filled the ring, unread
    EXPECT_FALSE(sub->receive_view(v, 0));
    EXPECT_TRUE(poller->poll(0).empty());
    const uint64_t next_seq = ring.header()->write_seq.load();
    auto pub = PubSocket::create("loankill", R);
    publish_loaned(*pub, 777, 200);
    ASSERT_TRUE(sub->receive_view(v, 0));
    ASSERT_TRUE(check_payload(v.data(), v.size(), &seq));
    EXPECT_EQ(seq, 777u);
    EXPECT_EQ(v.seq(), next_seq);
    EXPECT_TRUE(v.intact());
    EXPECT_FALSE(sub->receive(m, 0));
    EXPECT_EQ(sub->lost(), lost);
  }
}
