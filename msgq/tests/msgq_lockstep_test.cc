// Lockstep (msgq.h): a feeder that sends one message and waits in
// wait_lockstep() gets back only once the subscriber took it and went back to
// wait; lockstep waits ignore their timeout and end on a signal.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

#include "msgq/msgq.h"
#include "msgq/tests/test_env.h"

namespace {

msgq::SubOptions lockstep() {
  msgq::SubOptions o;
  o.lockstep = true;
  return o;
}

constexpr uint64_t kStop = UINT64_MAX;

// Joins a test's thread also when an ASSERT returns early (a joinable
// std::thread's destructor would abort the whole binary): stop() ends it first.
class Joined {
 public:
  Joined(std::thread &t, std::function<void()> stop) : t_(t), stop_(std::move(stop)) {}
  ~Joined() {
    if (!t_.joinable()) return;
    stop_();
    t_.join();
  }

 private:
  std::thread &t_;
  std::function<void()> stop_;
};

// The subscriber side of a process under replay: each input gives one
// output, until kStop. Returns how often a wait came back empty.
int echo(msgq::SubSocket &in, msgq::PubSocket &out, bool poll) {
  auto poller = msgq::Poller::create();
  poller->add(in);
  msgq::Message m;
  int empty = 0;
  while (true) {
    // A 1 ms timeout would come back empty often; lockstep waits are unbounded.
    if (poll && poller->poll(1).empty()) {
      empty++;
      continue;
    }
    if (!in.receive(m, poll ? 0 : 1)) {
      empty++;
      continue;
    }
    uint64_t v;
    memcpy(&v, m.data(), sizeof(v));
    if (v == kStop) return empty;
    out.send(m.data(), m.size());
  }
}

void lockstep_round_trips(bool poll) {
  msgq_test::ScopedPrefix prefix(poll ? "lockpoll" : "lockrecv");
  auto in_pub = msgq::PubSocket::create("in");
  auto out_pub = msgq::PubSocket::create("out");
  auto out_sub = msgq::SubSocket::create("out");
  auto in_sub = msgq::SubSocket::create("in", lockstep());
  EXPECT_FALSE(in_pub->wait_lockstep(0)) << "attached, but has not waited yet: not done";
  constexpr int kN = 200;
  int empty = -1;
  std::thread t([&] { empty = echo(*in_sub, *out_pub, poll); });
  Joined joined(t, [&] { in_pub->send(&kStop, sizeof(kStop)); });
  ASSERT_TRUE(in_pub->wait_lockstep(5000)) << "the subscriber went to wait";
  msgq::Message m;
  for (uint64_t i = 0; i < kN; i++) {
    in_pub->send(&i, sizeof(i));
    ASSERT_TRUE(in_pub->wait_lockstep(5000));
    // Its output is there already: no sleeping, no timing.
    ASSERT_TRUE(out_sub->receive(m, 0)) << "message " << i;
    uint64_t echoed;
    memcpy(&echoed, m.data(), sizeof(echoed));
    ASSERT_EQ(echoed, i);
    ASSERT_FALSE(out_sub->receive(m, 0));
  }
  in_pub->send(&kStop, sizeof(kStop));
  t.join();
  EXPECT_EQ(empty, 0) << "a lockstep wait ended without a message or a signal";
}

TEST(MsgqLockstep, ReceiveRoundTrips) { lockstep_round_trips(false); }
TEST(MsgqLockstep, PollRoundTrips) { lockstep_round_trips(true); }

TEST(MsgqLockstep, NoLockstepSubscriberIsATimeout) {
  msgq_test::ScopedPrefix prefix("locknone");
  auto pub = msgq::PubSocket::create("t");
  auto plain = msgq::SubSocket::create("t");
  EXPECT_FALSE(pub->wait_lockstep(20));
  EXPECT_TRUE(pub->all_readers_updated());
  pub->send("x", 1);
  EXPECT_FALSE(pub->all_readers_updated());
  msgq::Message m;
  ASSERT_TRUE(plain->receive(m, 0));
  EXPECT_TRUE(pub->all_readers_updated());
}

TEST(MsgqLockstep, ExplicitDoneAndAGoneSubscriber) {
  msgq_test::ScopedPrefix prefix("lockdone");
  auto pub = msgq::PubSocket::create("t");
  auto a = msgq::SubSocket::create("t", lockstep());
  auto b = msgq::SubSocket::create("t", lockstep());
  pub->send("x", 1);
  msgq::Message m;
  ASSERT_TRUE(a->receive(m, 0));
  a->done();
  EXPECT_FALSE(pub->wait_lockstep(0)) << "b has not taken it";
  ASSERT_TRUE(b->receive(m, 0));
  EXPECT_FALSE(pub->wait_lockstep(0)) << "b took it but is not done";
  b.reset();  // a subscriber that goes away stops counting
  EXPECT_TRUE(pub->wait_lockstep(0));
}

// A lockstep subscriber whose process died (no destructor ran: its slot stays
// marked) is found once, after a wait slice, and never waited on again.
TEST(MsgqLockstep, ADeadSubscriberIsFoundOnce) {
  msgq_test::ScopedPrefix prefix("lockdead");
  auto pub = msgq::PubSocket::create("t");
  auto live = msgq::SubSocket::create("t", lockstep());
  msgq_test::Child dead([] {
    auto sub = msgq::SubSocket::create("t", lockstep());
    _exit(0);  // leaves its slot marked, as SIGKILL would
    return 0;
  });
  ASSERT_EQ(dead.wait(), 0);
  msgq::Message m;
  pub->send("x", 1);
  ASSERT_TRUE(live->receive(m, 0));
  live->done();
  EXPECT_FALSE(pub->wait_lockstep(0)) << "not known dead yet";
  EXPECT_TRUE(pub->wait_lockstep(5000)) << "found dead after a slice";
  pub->send("y", 1);
  ASSERT_TRUE(live->receive(m, 0));
  live->done();
  EXPECT_TRUE(pub->wait_lockstep(0)) << "known dead: no slice needed";
}

TEST(MsgqLockstep, ASignalEndsALockstepWait) {
  msgq_test::ScopedPrefix prefix("locksig");
  struct sigaction sa = {};
  sa.sa_handler = [](int) {};
  struct sigaction old;
  sigaction(SIGUSR1, &sa, &old);  // no SA_RESTART
  auto pub = msgq::PubSocket::create("t");
  std::atomic<int> returned{0};
  std::thread t([&] {
    auto sub = msgq::SubSocket::create("t", lockstep());
    msgq::Message m;
    returned = sub->receive(m, -1) ? 2 : 1;  // false: interrupted
  });
  auto interrupt = [&] {
    while (returned.load() == 0) {
      pthread_kill(t.native_handle(), SIGUSR1);
      usleep(1000);
    }
  };
  Joined joined(t, interrupt);
  ASSERT_TRUE(pub->wait_lockstep(5000));
  EXPECT_EQ(returned.load(), 0);
  interrupt();
  t.join();
  EXPECT_EQ(returned.load(), 1);
  sigaction(SIGUSR1, &old, nullptr);
}

// A stop handler's stop_lockstep_waits() ends a wait under way and every
// later one (in a child: it lasts for the process).
TEST(MsgqLockstep, StopEndsWaitsForGood) {
  msgq_test::ScopedPrefix prefix("lockstop");
  auto pub = msgq::PubSocket::create("t");
  msgq_test::Child child([] {
    auto sub = msgq::SubSocket::create("t", lockstep());
    auto poller = msgq::Poller::create();
    poller->add(*sub);
    std::atomic<int> returned{0};
    std::thread t([&] {
      msgq::Message m;
      returned = sub->receive(m, -1) ? 2 : 1;
    });
    while (sub->topic().empty() || returned.load() == 0) {
      msgq::stop_lockstep_waits();  // maybe before the wait began: it ends all the same
      usleep(1000);
    }
    t.join();
    msgq::Message m;
    const bool later = sub->receive(m, -1) || !poller->poll(-1).empty();
    return returned.load() == 1 && !later ? 0 : 1;
  });
  EXPECT_EQ(child.wait(), 0);
}

}  // namespace
