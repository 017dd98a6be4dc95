// Loan services (services.py `loan`): built in place by MessageBuilder(pm, name),
// read in place by SubMaster, through the same PubMaster/SubMaster calls.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cereal/messaging.h"
#include "common/prefix.h"
#include "common/testing/prefix.h"

namespace {

using cereal::MessageBuilder;
using cereal::PubMaster;
using cereal::SubMaster;

constexpr const char *kLoaned = "testLargeMessage";

// Each test runs under its own CONDUIT_PREFIX.
class Loans : public testutil::PrefixTest {};

kj::byte pattern(uint64_t seq, size_t i) { return kj::byte((seq * 131 + i * 7) & 0xff); }

// Builds message `seq` with a payload of `size` bytes in `msg`.
void build(MessageBuilder &msg, uint64_t seq, size_t size) {
  auto t = msg.initEvent().initTestLargeMessage();
  t.setSeq(seq);
  auto payload = t.initPayload(size);
  for (size_t i = 0; i < size; i++) payload[i] = pattern(seq, i);
}

bool holds(cereal::Event::Reader e, uint64_t seq, size_t size) {
  auto t = e.getTestLargeMessage();
  auto payload = t.getPayload();
  if (t.getSeq() != seq || payload.size() != size) return false;
  for (size_t i = 0; i < size; i++) {
    if (payload[i] != pattern(seq, i)) return false;
  }
  return true;
}

TEST(LoanServices, TableSaysWhichServicesLend) {
  EXPECT_GT(cereal::service(kLoaned).loan, 0u);
  EXPECT_EQ(cereal::service("can").loan, 0u);
}

TEST_F(Loans, BuiltAndReadInPlace) {
  PubMaster pm({kLoaned, "can"});
  SubMaster sm({kLoaned});
  for (uint64_t seq = 0; seq < 5; seq++) {
    MessageBuilder msg(pm, kLoaned);
    ASSERT_TRUE(msg.inLoan());
    build(msg, seq, 512 * 1024);
    pm.send(kLoaned, msg);
    EXPECT_THROW(pm.send(kLoaned, msg), msgq::Error);  // sent once
    sm.update(0);
    ASSERT_TRUE(sm.updated(kLoaned));
    auto held = sm.message(kLoaned);
    EXPECT_TRUE(held->in_place);
    EXPECT_TRUE(holds(sm[kLoaned], seq, 512 * 1024));
    EXPECT_TRUE(sm.intact(kLoaned));
  }
  MessageBuilder copied(pm, "can");
  EXPECT_FALSE(copied.inLoan());
  EXPECT_EQ(sm.lost(kLoaned), 0u);
}

// A message that outgrows its loan, or one built while another holds the
// loan, is copied; a builder dropped unsent publishes nothing.
TEST_F(Loans, OutgrownHeldOrDroppedLoans) {
  PubMaster pm({kLoaned});
  SubMaster sm({kLoaned});
  const size_t big = cereal::service(kLoaned).loan + 4096;
  {
    MessageBuilder msg(pm, kLoaned);
    build(msg, 1, big);  // capnp takes another segment
    pm.send(kLoaned, msg);
  }
  sm.update(0);
  ASSERT_TRUE(sm.updated(kLoaned));
  EXPECT_TRUE(holds(sm[kLoaned], 1, big));
  { MessageBuilder dropped(pm, kLoaned); build(dropped, 99, 100); }
  sm.update(0);
  EXPECT_FALSE(sm.updated(kLoaned));
  {
    MessageBuilder first(pm, kLoaned), second(pm, kLoaned);
    EXPECT_TRUE(first.inLoan());
    EXPECT_FALSE(second.inLoan());  // the topic lends one at a time
    build(first, 2, 1000);
    build(second, 3, 1000);
    pm.send(kLoaned, first);
    pm.send(kLoaned, second);
  }
  sm.update(0);
  EXPECT_TRUE(holds(sm[kLoaned], 2, 1000));
  sm.update(0);
  EXPECT_TRUE(holds(sm[kLoaned], 3, 1000));
  EXPECT_EQ(sm.lost(kLoaned), 0u);
}

// The publisher laps a message SubMaster holds in place: intact() says so,
// and lost() counts it; the next message reads whole again.
TEST_F(Loans, OverwrittenWhileHeldIsReported) {
  PubMaster pm({kLoaned});
  SubMaster sm({kLoaned});
  const size_t size = 1024 * 1024;
  auto publish = [&](uint64_t seq) {
    MessageBuilder msg(pm, kLoaned);
    build(msg, seq, size);
    pm.send(kLoaned, msg);
  };
  publish(0);
  sm.update(0);
  ASSERT_TRUE(holds(sm[kLoaned], 0, size));
  ASSERT_TRUE(sm.intact(kLoaned));
  const size_t lap = cereal::service(kLoaned).ring_size / size + 1;
  for (uint64_t seq = 1; seq <= lap; seq++) publish(seq);
  EXPECT_FALSE(sm.intact(kLoaned));
  EXPECT_EQ(sm.lost(kLoaned), 1u);
  uint64_t received = 1;
  while (sm.update(0), sm.updated(kLoaned)) {
    EXPECT_TRUE(sm.intact(kLoaned));
    received++;
  }
  EXPECT_TRUE(holds(sm[kLoaned], lap, size));
  EXPECT_EQ((received - 1) + sm.lost(kLoaned), lap + 1);  // whole ones (not the overwritten first) and lost ones
}

}  // namespace
