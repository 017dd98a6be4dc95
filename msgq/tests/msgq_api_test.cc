// Behaviour every backend shares; runs once over shared memory and once over ZMQ.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "common/prefix.h"
#include "msgq/msgq.h"
#include "msgq/zmq_socket.h"
#include "msgq/tests/test_env.h"

using namespace msgq;
using namespace msgq_test;

class Backend : public ::testing::TestWithParam<const char *> {
 protected:
  void SetUp() override { setenv("ZMQ", GetParam(), 1); }
  void TearDown() override { unsetenv("ZMQ"); }
  bool zmq() const { return std::string(GetParam()) == "1"; }

  // ZMQ subscribers join in the background: publish numbered probes until
  // each subscriber has taken one, then let each take its probes up to the
  // last one sent (a connection delivers in order), so none is left over.
  void await_connected(PubSocket &pub, std::vector<SubSocket *> subs) {
    if (!zmq()) return;
    Message m;
    uint32_t sent = 0;
    std::vector<int64_t> taken(subs.size(), -1);  // the last probe each took
    auto take = [&](size_t i, int timeout_ms) {
      if (!subs[i]->receive(m, timeout_ms)) return false;
      uint32_t n;
      memcpy(&n, m.data(), sizeof(n));
      taken[i] = n;
      return true;
    };
    ASSERT_TRUE(wait_for([&] {
      pub.send(&sent, sizeof(sent));
      sent++;
      bool all = true;
      for (size_t i = 0; i < subs.size(); i++) all &= taken[i] >= 0 || take(i, 10);
      return all;
    })) << "a ZMQ subscriber never joined";
    for (size_t i = 0; i < subs.size(); i++) {
      while (taken[i] != sent - 1) ASSERT_TRUE(take(i, 1000)) << "probe " << sent - 1 << " never arrived";
    }
  }
  void await_connected(PubSocket &pub, SubSocket &sub) { await_connected(pub, std::vector<SubSocket *>{&sub}); }
};

TEST_P(Backend, SizesRoundTripIncludingLargest) {
  ScopedPrefix prefix("sizes");
  const size_t ring = 64 * 1024;
  auto pub = PubSocket::create("sizes", ring);
  auto sub = SubSocket::create("sizes", {.ring_size = ring});
  await_connected(*pub, *sub);
  // Around the word and 16-byte steps and the small-copy limit of the shm
  // backend, then shrinking and growing again into one reused Message.
  Message m;
  for (size_t size : {0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 33, 511, 512, 513, 4096, 513, 17, 8, 0, 1000}) {
    std::vector<char> payload(size);
    for (size_t i = 0; i < size; i++) payload[i] = char(i * 13 + size);
    pub->send(payload.data(), size);
    ASSERT_TRUE(sub->receive(m, 1000)) << "size " << size;
    ASSERT_EQ(m.size(), size);
    if (size) {
      EXPECT_EQ(0, memcmp(m.data(), payload.data(), size)) << "size " << size;
    }
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % 8, 0u);
  }
  const size_t largest = max_message_size(ring);
  std::vector<char> payload(largest);
  for (size_t i = 0; i < largest; i++) payload[i] = char(i * 7 + 1);
  pub->send(payload.data(), largest);
  ASSERT_TRUE(sub->receive(m, 1000));
  ASSERT_EQ(m.size(), largest);
  EXPECT_EQ(0, memcmp(m.data(), payload.data(), largest));
  std::vector<char> too_big(max_message_size(ring) + 1);
  EXPECT_THROW(pub->send(too_big.data(), too_big.size()), Error);
  EXPECT_EQ(sub->lost(), 0u);
}

// An empty message is (nullptr, 0) as often as not (an empty vector's data()).
// memcpy from null is undefined even for 0 bytes: the UBSan gate runs this.
TEST_P(Backend, EmptyMessageFromNullPointer) {
  ScopedPrefix prefix("empty");
  auto pub = PubSocket::create("empty", 64 * 1024);
  auto sub = SubSocket::create("empty", {.ring_size = 64 * 1024});
  await_connected(*pub, *sub);
  pub->send(nullptr, 0);
  pub->send("x", 1);
  Message m;
  ASSERT_TRUE(sub->receive(m, 1000));
  EXPECT_EQ(m.size(), 0u);
  ASSERT_TRUE(sub->receive(m, 1000));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.data()[0], 'x');
  Message copy(nullptr, 0);
  EXPECT_EQ(copy.size(), 0u);
}

TEST_P(Backend, NonBlockingAndTimeout) {
  ScopedPrefix prefix("timeout");
  auto pub = PubSocket::create("quiet");
  auto sub = SubSocket::create("quiet");
  await_connected(*pub, *sub);
  Message m;
  EXPECT_FALSE(sub->receive(m, 0));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(sub->receive(m, 50));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(45));
}

TEST_P(Backend, BlockingReceiveWakesOnPublishFromAnotherProcess) {
  ScopedPrefix prefix("wake");
  auto sub = SubSocket::create("wake");
  Signal publishing;  // 1 once the child has its publisher, 0 when it cannot have one
  Child child([&] {
    std::unique_ptr<PubSocket> pub;
    try {
      pub = PubSocket::create("wake");
    } catch (const Error &) {
      publishing.post(0);
      return 1;
    }
    publishing.post(1);
    for (;;) {  // until the test ends (on ZMQ the subscriber joins meanwhile)
      pub->send("hello", 5);
      usleep(20000);
    }
  });
  ASSERT_EQ(publishing.wait(), 1) << "the child could not create its publisher";
  Message m;
  ASSERT_TRUE(sub->receive(m, -1));
  EXPECT_EQ(std::string(m.data(), m.size()), "hello");
}

TEST_P(Backend, ConflateReturnsNewestAndCountsSkipped) {
  ScopedPrefix prefix("conflate");
  auto pub = PubSocket::create("conflate");
  auto sub = SubSocket::create("conflate", {.conflate = true});
  auto all = SubSocket::create("conflate");
  await_connected(*pub, {sub.get(), all.get()});
  uint64_t lost_before = sub->lost();
  for (uint64_t i = 0; i < 10; i++) {
    auto p = make_payload(i, 32);
    pub->send(p.data(), p.size());
  }
  Message m;
  uint64_t seq;
  for (uint64_t i = 0; i < 10; i++) {
    ASSERT_TRUE(all->receive(m, 1000));
    ASSERT_TRUE(check_payload(m.data(), m.size(), &seq));
    EXPECT_EQ(seq, i);
  }
  // On shm the conflating subscriber's first receive is the newest. ZMQ
  // delivers in the background (`all` having all ten says they were sent):
  // each receive there is the newest that has arrived, so take until the
  // last, every one newer than the one before, and fewer than were sent.
  int taken = 0;
  int64_t prev = -1;
  do {
    ASSERT_TRUE(sub->receive(m, 1000));
    ASSERT_TRUE(check_payload(m.data(), m.size(), &seq));
    ASSERT_GT(int64_t(seq), prev);
    prev = int64_t(seq);
    taken++;
  } while (zmq() && seq != 9);
  EXPECT_EQ(seq, 9u);
  EXPECT_FALSE(sub->receive(m, 0));
  if (zmq()) {
    EXPECT_LT(taken, 10);
  } else {
    EXPECT_EQ(taken, 1);
    EXPECT_EQ(sub->lost() - lost_before, 9u);
  }
}

TEST_P(Backend, PollerReportsReadyTopics) {
  ScopedPrefix prefix("poller");
  std::vector<std::unique_ptr<PubSocket>> pubs;
  std::vector<std::unique_ptr<SubSocket>> subs;
  auto poller = Poller::create();
  for (const char *t : {"a", "b", "c"}) {
    pubs.push_back(PubSocket::create(t));
    subs.push_back(SubSocket::create(t));
    await_connected(*pubs.back(), *subs.back());
    poller->add(*subs.back());
  }
  EXPECT_TRUE(poller->poll(20).empty());
  std::thread later([&] {
    usleep(30000);
    pubs[1]->send("x", 1);
  });
  auto ready = poller->poll(5000);
  later.join();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0], subs[1].get());
  Message m;
  ASSERT_TRUE(subs[1]->receive(m, 0));
  pubs[0]->send("y", 1);
  pubs[2]->send("z", 1);
  std::vector<SubSocket *> want = {subs[0].get(), subs[2].get()};
  std::sort(want.begin(), want.end());
  const std::vector<SubSocket *> *list = nullptr;
  // On ZMQ the two arrive in the background, maybe one poll apart.
  wait_for([&] {
    list = &poller->poll(1000);
    ready = *list;
    std::sort(ready.begin(), ready.end());
    return ready == want || !zmq();
  }, 5);
  EXPECT_EQ(ready, want);
  // The poller's own list, refilled by each poll.
  ASSERT_TRUE(subs[0]->receive(m, 0));
  EXPECT_EQ(&poller->poll(1000), list);
  EXPECT_EQ(*list, std::vector<SubSocket *>{subs[2].get()});
}

TEST_P(Backend, PrefixesIsolateTopics) {
  ScopedPrefix a("iso_a");
  auto pub = PubSocket::create("shared");
  auto sub_same = SubSocket::create("shared");
  await_connected(*pub, *sub_same);
  {
    ScopedPrefix b("iso_b");
    auto sub_other = SubSocket::create("shared");
    auto pub_other = PubSocket::create("shared");  // its own publisher: no clash across prefixes
    pub->send("from-a", 6);
    Message m;
    EXPECT_FALSE(sub_other->receive(m, 100));
    ASSERT_TRUE(sub_same->receive(m, 1000));
    EXPECT_EQ(std::string(m.data(), m.size()), "from-a");
  }
}

TEST_P(Backend, SecondPublisherIsRefused) {
  ScopedPrefix prefix("twopub");
  auto pub = PubSocket::create("solo");
  try {
    auto pub2 = PubSocket::create("solo");
    FAIL() << "second publisher was accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("publisher"), std::string::npos) << e.what();
  }
  pub.reset();
  EXPECT_NO_THROW(PubSocket::create("solo"));
}

TEST_P(Backend, BadTopicNamesAreRefused) {
  ScopedPrefix prefix("names");
  for (std::string bad : {"", "a/b", "..", "../etc", "x..y", "has space"}) {
    EXPECT_THROW(PubSocket::create(bad), Error) << bad;
    EXPECT_THROW(SubSocket::create(bad), Error) << bad;
  }
}

// A loan is built in place and published by commit(); a view reads it back
// (in the ring on shm, in the view's own copy on ZMQ). One loan at a time.
TEST_P(Backend, LoansAndViewsRoundTrip) {
  ScopedPrefix prefix("loans");
  const size_t ring = 64 * 1024;
  auto pub = PubSocket::create("loans", ring);
  auto sub = SubSocket::create("loans", {.ring_size = ring});
  await_connected(*pub, *sub);
  MessageView v;
  Message m;
  for (uint64_t i = 0; i < 40; i++) {  // sizes that put loans across the ring's end
    const size_t size = 16 + (i * 1237) % 9000;
    char *p = static_cast<char *>(pub->loan(size + 100));
    ASSERT_TRUE(pub->on_loan());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u);
    fill_payload(p, i, size);
    EXPECT_FALSE(sub->receive_view(v, 0)) << "visible before commit";
    pub->commit(size);
    EXPECT_FALSE(pub->on_loan());
    ASSERT_TRUE(sub->receive_view(v, 1000)) << i;
    uint64_t seq;
    ASSERT_EQ(v.size(), size);
    ASSERT_TRUE(check_payload(v.data(), v.size(), &seq));
    EXPECT_EQ(seq, i);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % 8, 0u);
    EXPECT_TRUE(v.intact());
  }
  if (!zmq()) {
    EXPECT_EQ(v.seq(), 39u);  // (ZMQ's probes took the first numbers)
  }

  // Misuse is an error that leaves the topic usable.
  EXPECT_THROW(pub->commit(1), Error);  // no loan
  pub->loan(64);
  EXPECT_THROW(pub->loan(64), Error);
  EXPECT_THROW(pub->send("x", 1), Error);
  EXPECT_THROW(pub->commit(65), Error);
  pub->cancel_loan();
  EXPECT_FALSE(pub->on_loan());
  EXPECT_THROW(pub->loan(max_message_size(ring) + 1), Error);
  EXPECT_FALSE(pub->on_loan());
  pub->send("after", 5);
  ASSERT_TRUE(sub->receive(m, 1000));
  EXPECT_EQ(std::string(m.data(), m.size()), "after");  // the cancelled loan published nothing
  EXPECT_FALSE(sub->receive(m, 0));
  EXPECT_EQ(sub->lost(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Msgq, Backend, ::testing::Values("0", "1"),
                         [](const auto &info) { return std::string(info.param) == "1" ? "zmq" : "shm"; });

TEST(MsgqLocal, LocalSocketsUseSharedMemoryEvenWithZmq) {
  ScopedPrefix prefix("local");
  setenv("ZMQ", "1", 1);
  auto pub = PubSocket::create("local", kDefaultRingSize, /*local=*/true);
  auto sub = SubSocket::create("local", {.local = true});
  unsetenv("ZMQ");
  pub->send("x", 1);  // no slow-joiner delay: this is the shm ring
  Message m;
  ASSERT_TRUE(sub->receive(m, 0));
  EXPECT_EQ(pub->subscriber_count(), 1);
}

// A loopback port can be taken first by any connection's ephemeral port (the
// publisher's bind then fails); the default transport uses none: its socket
// lies in the prefix's owner-only directory.
TEST(MsgqZmq, DefaultTransportIsAUnixSocketInThePrefixDirectory) {
  ScopedPrefix prefix("zmq_ipc");
  unsetenv("CONDUIT_ZMQ_TRANSPORT");
  const std::string path = conduit::shm_dir() + "/where.zmq";
  EXPECT_EQ(msgq::zmq_endpoint("where"), "ipc://" + path);
  // The publisher lives in a child: libzmq's threads in this process would
  // confuse ThreadSanitizer in the children later tests fork.
  Child child([&] {
    setenv("ZMQ", "1", 1);
    auto pub = PubSocket::create("where");
    struct stat sock;
    return stat(path.c_str(), &sock) == 0 && S_ISSOCK(sock.st_mode) ? 0 : 1;
  });
  EXPECT_EQ(child.wait(), 0) << "the publisher bound no unix socket at " << path;
  struct stat dir;
  ASSERT_EQ(stat(conduit::shm_dir().c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);
  EXPECT_EQ(dir.st_uid, getuid());

  setenv("CONDUIT_ZMQ_TRANSPORT", "tcp", 1);
  EXPECT_EQ(msgq::zmq_endpoint("where").rfind("tcp://127.0.0.1:", 0), 0u);
  setenv("CONDUIT_ZMQ_TRANSPORT", "ipc", 1);
  EXPECT_EQ(msgq::zmq_endpoint("where"), "ipc://" + path);
  setenv("CONDUIT_ZMQ_TRANSPORT", "TCP", 1);  // a typo is an error, not quietly ipc
  EXPECT_THROW(msgq::zmq_endpoint("where"), msgq::Error);
  unsetenv("CONDUIT_ZMQ_TRANSPORT");
}
