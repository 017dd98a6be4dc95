// Shared-memory backend: slots, lapping, torn reads, files on disk.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "msgq/msgq.h"
#include "msgq/ring.h"
#include "msgq/tests/test_env.h"

using namespace msgq;
using namespace msgq_test;

// Ring sizes of a power of two take offsets by mask; others by division.
TEST(MsgqShm, WrapAroundKeepsEveryMessageIntact) {
  for (uint64_t ring_size : {uint64_t(4096), uint64_t(3 * 4096)}) {
    ScopedPrefix prefix("wrap");
    auto pub = PubSocket::create("wrap", ring_size);
    auto sub = SubSocket::create("wrap", {.ring_size = ring_size});
    Message m;
    // Sizes that do not divide the ring, so wrap markers land everywhere.
    for (uint64_t i = 0; i < 5000; i++) {
      auto p = make_payload(i, 16 + (i * 37) % (ring_size / 4));
      pub->send(p.data(), p.size());
      ASSERT_TRUE(sub->receive(m, 0)) << ring_size << " " << i;
      uint64_t seq;
      ASSERT_TRUE(check_payload(m.data(), m.size(), &seq)) << ring_size << " " << i;
      ASSERT_EQ(seq, i);
      ASSERT_EQ(m.size(), p.size());
    }
    EXPECT_EQ(sub->lost(), 0u);
  }
}

// The publisher declares overwritten bytes a step ahead of what it writes, but
// never past its own messages: `oldest` is always a message (or wrap marker)
// of the last lap, and everything from it to the newest stays readable.
TEST(MsgqShm, OverwriteDeclarationStaysWithinTheLastLap) {
  ScopedPrefix prefix("declare");
  const uint64_t R = 4096;
  auto pub = PubSocket::create("declare", R);
  Ring ring("declare", R);
  RingHeader *h = ring.header();
  for (uint64_t i = 0; i < 3000; i++) {
    auto p = make_payload(i, 16 + (i * 37) % 1500);
    pub->send(p.data(), p.size());
    const uint64_t upto = h->overwritten_upto.load(), oldest = h->oldest_pos.load();
    const uint64_t newest = h->newest_pos.load(), end = h->write_pos.load();
    ASSERT_LE(upto, oldest) << i;
    ASSERT_LE(oldest, newest) << i;
    ASSERT_LE(end - oldest, R) << i;
    if (i > 100) {  // a step (R/16) ahead at most, plus the message that straddles it
      ASSERT_GE(end - oldest, R - R / 16 - padded_size(16 + 1499)) << i << ": declared too far ahead";
    }
    // Walk from the oldest to the newest: intact messages in sequence.
    uint64_t pos = oldest, expected = UINT64_MAX;
    while (pos < end) {
      const auto *mh = reinterpret_cast<const MessageHeader *>(ring.data() + pos % R);
      if (mh->size == kWrapMarker) {
        pos += R - pos % R;
        continue;
      }
      uint64_t seq;
      ASSERT_TRUE(check_payload(reinterpret_cast<const char *>(mh + 1), mh->size, &seq)) << i;
      if (expected != UINT64_MAX) {
        ASSERT_EQ(seq, expected) << i;
      }
      expected = seq + 1;
      pos += padded_size(mh->size);
    }
    ASSERT_EQ(pos, end) << i;
    ASSERT_EQ(expected, i + 1) << i;
  }
}

TEST(MsgqShm, LappedSubscriberCountsExactlyAndResumesAtOldest) {
  ScopedPrefix prefix("lap");
  auto pub = PubSocket::create("lap", 4096);
  auto sub = SubSocket::create("lap", {.ring_size = 4096});
  // 100 messages of 112 bytes padded = 128 bytes each: the ring keeps the newest 32.
  for (uint64_t i = 0; i < 100; i++) {
    auto p = make_payload(i, 112);
    pub->send(p.data(), p.size());
  }
  Message m;
  uint64_t first = UINT64_MAX, count = 0, seq = 0, prev = 0;
  while (sub->receive(m, 0)) {
    ASSERT_TRUE(check_payload(m.data(), m.size(), &seq));
    if (first == UINT64_MAX) first = seq;
    else ASSERT_EQ(seq, prev + 1);
    prev = seq;
    count++;
  }
  EXPECT_EQ(prev, 99u);
  EXPECT_EQ(sub->lost(), first);
  EXPECT_EQ(sub->lost() + count, 100u);
  EXPECT_GE(count, 30u);  // resumed at the oldest intact message, not at the newest
}

// A reader lapped again before it has read half a ring since it resumed does
// not keep up: resuming at the oldest message would keep it where the writer
// overwrites, so it resumes at the first message the writer marked half a ring
// back. Lapped after reading further, it resumes at the oldest again. Every
// skipped message is counted.
TEST(MsgqShm, LappedAgainSoonAfterResumingGoesHalfARingBack) {
  ScopedPrefix prefix("chase");
  auto pub = PubSocket::create("chase", 4096);
  auto sub = SubSocket::create("chase", {.ring_size = 4096});
  uint64_t sent = 0;
  auto publish = [&](int n) {  // 128 bytes each, padded: the ring keeps the newest 32
    for (int i = 0; i < n; i++, sent++) {
      auto p = make_payload(sent, 112);
      pub->send(p.data(), p.size());
    }
  };
  Message m;
  uint64_t seq = 0, received = 0;
  auto next = [&] {
    EXPECT_TRUE(sub->receive(m, 0));
    EXPECT_TRUE(check_payload(m.data(), m.size(), &seq));
    received++;
    return seq;
  };
  auto drain = [&] {
    while (sub->receive(m, 0)) {
      EXPECT_TRUE(check_payload(m.data(), m.size(), &seq));
      received++;
    }
  };
  publish(100);
  EXPECT_LT(next(), 100u - 16);  // first lap: resumed at the oldest intact message
  publish(40);
  // Lapped again right away. The writer is at 140 * 128 bytes; half a ring
  // back is 124 * 128, where an eighth of the ring (4 messages) begins.
  EXPECT_EQ(next(), 124u);
  drain();  // up to 139: half a ring read since resuming
  EXPECT_EQ(seq, 139u);
  publish(100);
  EXPECT_LT(next(), 239u - 16);  // lapped after half a ring since resuming: the oldest
  drain();
  EXPECT_EQ(seq, 239u);
  EXPECT_EQ(received + sub->lost(), sent);
}

TEST(MsgqShm, SlowSubscriberSeesOnlyIntactMessagesAndExactDrops) {
  ScopedPrefix prefix("slow");
  const uint64_t N = 200000;
  auto sub = SubSocket::create("slow", {.ring_size = 16384});
  Signal go;
  Child publisher([&] {
    auto pub = PubSocket::create("slow", 16384);
    go.wait();
    for (uint64_t i = 0; i < N; i++) {
      auto p = make_payload(i, 16 + (i * 7919) % 700);
      pub->send(p.data(), p.size());
    }
    pub->send("", 0);  // end marker
    return 0;
  });
  go.post();
  Message m;
  uint64_t received = 0, expected = 0, seq;
  while (true) {
    ASSERT_TRUE(sub->receive(m, 10000));
    if (m.size() == 0) break;
    ASSERT_TRUE(check_payload(m.data(), m.size(), &seq)) << "torn message after " << received;
    ASSERT_GE(seq, expected);
    expected = seq + 1;
    received++;
    if (received % 64 == 0) usleep(200);  // fall behind on purpose
  }
  EXPECT_EQ(publisher.wait(), 0);
  EXPECT_EQ(received + sub->lost(), N);
  EXPECT_GT(sub->lost(), 0u) << "the test did not lap the subscriber";
  EXPECT_GT(received, 0u);
}

TEST(MsgqShm, SixtyFourSubscribersThenAClearError) {
  ScopedPrefix prefix("slots");
  auto pub = PubSocket::create("slots");
  std::vector<std::unique_ptr<SubSocket>> subs;
  for (int i = 0; i < kMaxSubscribers; i++) subs.push_back(SubSocket::create("slots"));
  EXPECT_EQ(pub->subscriber_count(), 64);
  try {
    SubSocket::create("slots");
    FAIL() << "65th subscriber accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("subscriber slots"), std::string::npos) << e.what();
  }
  pub->send("all", 3);
  Message m;
  for (auto &s : subs) {
    ASSERT_TRUE(s->receive(m, 0));
    EXPECT_EQ(std::string(m.data(), m.size()), "all");
  }
  subs.pop_back();
  EXPECT_NO_THROW(subs.push_back(SubSocket::create("slots")));
}

TEST(MsgqShm, KilledSubscriberFreesItsSlot) {
  ScopedPrefix prefix("killed");
  std::vector<std::unique_ptr<SubSocket>> subs;
  for (int i = 0; i < kMaxSubscribers - 1; i++) subs.push_back(SubSocket::create("killed"));
  Signal ready;
  Child holder([&] {
    auto s = SubSocket::create("killed");
    ready.post();
    pause();
    return 0;
  });
  ready.wait();
  EXPECT_THROW(SubSocket::create("killed"), Error);  // all 64 held by live processes
  holder.stop(SIGKILL);
  EXPECT_NO_THROW(subs.push_back(SubSocket::create("killed")));
}

TEST(MsgqShm, DeadPublisherIsReplacedAndSequenceContinues) {
  ScopedPrefix prefix("deadpub");
  auto sub = SubSocket::create("deadpub");
  Child first([&] {
    auto pub = PubSocket::create("deadpub");
    pub->send("one", 3);
    raise(SIGKILL);
    return 0;
  });
  first.wait();
  auto pub = PubSocket::create("deadpub");
  pub->send("two", 3);
  Message m;
  ASSERT_TRUE(sub->receive(m, 0));
  EXPECT_EQ(m.seq(), 0u);
  ASSERT_TRUE(sub->receive(m, 0));
  EXPECT_EQ(std::string(m.data(), m.size()), "two");
  EXPECT_EQ(m.seq(), 1u);
  EXPECT_EQ(sub->lost(), 0u);
}

// Killed after its message committed but before write_pos moved past it: the
// subscriber may already hold that message, so the next publisher continues
// after it instead of writing a different message under the same number.
TEST(MsgqShm, PublisherKilledAfterCommitIsContinuedAfterItsMessage) {
  ScopedPrefix prefix("commitkill");
  auto sub = SubSocket::create("commitkill", {.ring_size = 4096});
  Ring ring("commitkill", 4096);
  RingHeader *h = ring.header();
  Message m;
  for (int wrap = 0; wrap < 2; wrap++) {  // a plain message, then one behind a wrap marker
    if (wrap) {  // fill up to near the ring's end, so the next 500 bytes cross it
      auto filler = PubSocket::create("commitkill", 4096);
      while (h->write_pos.load() % 4096 < 4096 - 400) filler->send("filler", 6);
      while (sub->receive(m, 0)) {
      }
    }
    Child first([&] {
      auto pub = PubSocket::create("commitkill", 4096);
      const uint64_t pos = h->write_pos.load(), newest = h->newest_pos.load(), seq = h->write_seq.load();
      std::string text(wrap ? 500 : 3, 'a');
      pub->send(text.data(), text.size());
      h->write_pos.store(pos);  // undo the stores after the commit, then die
      h->newest_pos.store(newest);
      h->write_seq.store(seq);
      raise(SIGKILL);
      return 0;
    });
    first.wait();
    ASSERT_TRUE(sub->receive(m, 0));
    const uint64_t killed_seq = m.seq();
    auto pub = PubSocket::create("commitkill", 4096);
    pub->send("next", 4);
    ASSERT_TRUE(sub->receive(m, 0));
    EXPECT_EQ(std::string(m.data(), m.size()), "next");
    EXPECT_EQ(m.seq(), killed_seq + 1);
    EXPECT_EQ(h->write_seq.load(), killed_seq + 2);
  }
  EXPECT_EQ(sub->lost(), 0u);
  EXPECT_FALSE(sub->receive(m, 0));
}

TEST(MsgqShm, FilesAreOwnerOnly) {
  ScopedPrefix prefix("perm");
  auto pub = PubSocket::create("perm");
  struct stat st;
  ASSERT_EQ(stat(conduit::shm_path("perm").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(conduit::shm_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

static void write_file(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(MsgqShm, UnusableExistingFilesGiveClearErrors) {
  ScopedPrefix prefix("badfile");
  auto expect_error = [](const std::string &topic, const std::string &needle) {
    try {
      SubSocket::create(topic);
      FAIL() << topic << " accepted";
    } catch (const Error &e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  write_file(conduit::shm_path("short"), "tiny");
  expect_error("short", "shorter than the msgq header");

  write_file(conduit::shm_path("garbage"), std::string(kHeaderBytes + 4096, 'x'));
  expect_error("garbage", "wrong magic");

  { auto pub = PubSocket::create("oldversion", 4096); }
  {
    int fd = open(conduit::shm_path("oldversion").c_str(), O_RDWR);
    uint32_t v = 99;
    ASSERT_EQ(pwrite(fd, &v, 4, offsetof(RingHeader, version)), 4);
    close(fd);
  }
  expect_error("oldversion", "version 99");

  { auto pub = PubSocket::create("truncated", 8192); }
  ASSERT_EQ(truncate(conduit::shm_path("truncated").c_str(), kHeaderBytes + 4096), 0);
  expect_error("truncated", "does not match its header");
}

TEST(MsgqShm, CorruptMessageHeaderIsAnErrorAndTheSubscriberRecovers) {
  ScopedPrefix prefix("corrupt");
  auto pub = PubSocket::create("corrupt", 4096);
  auto sub = SubSocket::create("corrupt", {.ring_size = 4096});
  pub->send("first", 5);
  {
    int fd = open(conduit::shm_path("corrupt").c_str(), O_RDWR);
    uint32_t huge = 1u << 30;
    ASSERT_EQ(pwrite(fd, &huge, 4, kHeaderBytes + offsetof(MessageHeader, size)), 4);
    close(fd);
  }
  Message m;
  EXPECT_THROW(sub->receive(m, 0), Error);
  pub->send("second", 6);
  ASSERT_TRUE(sub->receive(m, 0));
  EXPECT_EQ(std::string(m.data(), m.size()), "second");
  EXPECT_EQ(sub->lost(), 1u);
}

// Positions in the header that are no message boundary, or more than a ring
// apart (found by the msgq_attach fuzzer: a subscriber read a header across
// the end of the mapping; a publisher taking over walked ~2^60 steps). The
// subscriber gets an error; a publisher refuses the ring and leaves it free.
TEST(MsgqShm, CorruptPositionsInTheHeaderAreErrors) {
  ScopedPrefix prefix("corruptpos");
  {
    auto pub = PubSocket::create("corruptpos", 4096);
    pub->send("first", 5);
  }
  auto poke = [](size_t offset, uint64_t value) {
    int fd = open(conduit::shm_path("corruptpos").c_str(), O_RDWR);
    ASSERT_EQ(pwrite(fd, &value, 8, offset), 8);
    close(fd);
  };
  const uint64_t good_pos = [] {
    std::ifstream f(conduit::shm_path("corruptpos"), std::ios::binary);
    RingHeader h;
    f.read(reinterpret_cast<char *>(&h), sizeof(h));
    return h.write_pos.load();
  }();
  poke(offsetof(RingHeader, write_pos), 4096 * 3 + 4090);  // its header would end past the ring
  auto sub = SubSocket::create("corruptpos", {.ring_size = 4096});  // starts there
  Message m;
  EXPECT_THROW(sub->receive(m, 0), Error);
  EXPECT_THROW(PubSocket::create("corruptpos", 4096), Error);
  poke(offsetof(RingHeader, write_pos), uint64_t(1) << 60);  // a lap of 2^60 bytes since the oldest message
  EXPECT_THROW(PubSocket::create("corruptpos", 4096), Error);
  poke(offsetof(RingHeader, write_pos), good_pos);
  auto pub = PubSocket::create("corruptpos", 4096);  // the refusals left no publisher behind
  EXPECT_THROW(sub->receive(m, 0), Error);           // still at the bad position: skips to the newest
  pub->send("second", 6);
  ASSERT_TRUE(sub->receive(m, 0));
  EXPECT_EQ(std::string(m.data(), m.size()), "second");
}

// A ring file replaced under a subscriber (removed, a new pipeline created the
// topic again): it used to wait forever in silence; now a timed-out wait says why.
TEST(MsgqShm, ASubscriberWhoseRingFileWasReplacedSaysSo) {
  ScopedPrefix prefix("replaced");
  auto sub = SubSocket::create("replaced", {.ring_size = 4096});
  auto polled = SubSocket::create("replaced", {.ring_size = 4096});
  auto poller = Poller::create();
  poller->add(*polled);
  ASSERT_EQ(unlink(conduit::shm_path("replaced").c_str()), 0);
  auto pub = PubSocket::create("replaced", 4096);
  pub->send("lost", 4);
  Message m;
  try {
    sub->receive(m, 20);
    FAIL() << "receive() stayed silent";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("was removed or replaced since this subscriber attached"), std::string::npos)
        << e.what();
  }
  auto sub2 = SubSocket::create("replaced", {.ring_size = 4096});
  auto poller2 = Poller::create();
  poller2->add(*sub2);
  EXPECT_TRUE(poller2->poll(20).empty());  // the new file is healthy: an idle topic is no error
  pub->send("seen", 4);
  ASSERT_TRUE(sub2->receive(m, 0));
  EXPECT_THROW(poller->poll(20), Error);  // a poller of an old subscriber says it too
}

// A process that switches CONDUIT_PREFIX after subscribing (a test harness
// driving two pipelines) still watches the file it attached to, not the same
// topic under the new prefix.
TEST(MsgqShm, ARingIsCheckedAtThePathItWasAttachedAt) {
  ScopedPrefix prefix("attached");
  const std::string attached = getenv("CONDUIT_PREFIX");
  auto sub = SubSocket::create("attached", {.ring_size = 4096});
  Message m;
  {
    ScopedPrefix other("elsewhere");
    EXPECT_FALSE(sub->receive(m, 20));  // an idle topic, not "removed or replaced"
  }
  setenv("CONDUIT_PREFIX", attached.c_str(), 1);
  auto pub = PubSocket::create("attached", 4096);
  pub->send("here", 4);
  ASSERT_TRUE(sub->receive(m, 20));
  EXPECT_EQ(std::string(m.data(), m.size()), "here");
}

// A wrap marker where a lap starts (found by the fuzz gate): following it went
// round the ring forever.
TEST(MsgqShm, AWrapMarkerAtTheRingStartIsAnErrorNotAHang) {
  ScopedPrefix prefix("wrapstart");
  auto sub = SubSocket::create("wrapstart", {.ring_size = 4096});
  {
    Ring ring("wrapstart", 4096);
    ring.message_at(0)->size.store(kWrapMarker);
  }
  Message m;
  EXPECT_THROW(sub->receive(m, 0), Error);
  auto pub = PubSocket::create("wrapstart", 4096);
  pub->send("after", 5);
  ASSERT_TRUE(sub->receive(m, 0));
  EXPECT_EQ(std::string(m.data(), m.size()), "after");
}

// overwritten_upto scribbled past the writer: every read looked lapped and receive() spun forever.
TEST(MsgqShm, ADamagedOverwriteMarkIsAnErrorNotAHang) {
  ScopedPrefix prefix("upto");
  auto pub = PubSocket::create("upto", 4096);
  auto sub = SubSocket::create("upto", {.ring_size = 4096});
  pub->send("first", 5);
  {
    Ring ring("upto", 4096);
    ring.header()->overwritten_upto.store(uint64_t(1) << 40);
  }
  Message m;
  EXPECT_THROW(sub->receive(m, 0), Error);
  EXPECT_THROW(sub->receive(m, 20), Error);  // after the wait: the header itself is checked
}

// Readers that keep up meet the writer at the header it is about to commit:
// one waiting in a Poller's look, one asleep in receive(), one conflating. Each
// sees every message whole and in order, and counts exactly what it missed.
TEST(MsgqShm, ReadersAtTheWritersHeelsSeeWholeMessagesInOrder) {
  ScopedPrefix prefix("heels");
  const uint64_t N = 200000;
  enum Way { kPoller, kReceive, kConflate };
  auto reader = [&](Way way, Signal &ready) {
    return [&, way] {
      auto sub = SubSocket::create("heels", {.conflate = way == kConflate, .ring_size = 16384});
      auto poller = Poller::create();
      poller->add(*sub);
      ready.post();
      Message m;
      uint64_t received = 0, expected = 0, seq;
      while (true) {
        if (way == kPoller) {
          while (!sub->receive(m, 0)) {
            if (poller->spin_then_poll(10000, 20000).empty()) return 4;
          }
        } else if (!sub->receive(m, 10000)) {
          return 4;
        }
        if (m.size() == 0) break;  // the end
        if (!check_payload(m.data(), m.size(), &seq)) return 1;
        if (seq < expected || m.seq() != seq) return 2;
        expected = seq + 1;
        received++;
      }
      if (m.seq() != N || received + sub->lost() != N) return 3;
      return way == kConflate || received > 0 ? 0 : 5;
    };
  };
  Signal ready_poller, ready_receive, ready_conflate;
  Child by_poller(reader(kPoller, ready_poller));
  Child by_receive(reader(kReceive, ready_receive));
  Child by_conflate(reader(kConflate, ready_conflate));
  ready_poller.wait();
  ready_receive.wait();
  ready_conflate.wait();
  auto pub = PubSocket::create("heels", 16384);
  for (uint64_t i = 0; i < N; i++) {
    auto p = make_payload(i, 16 + (i * 7919) % 700);
    pub->send(p.data(), p.size());
  }
  pub->send("", 0);
  EXPECT_EQ(by_poller.wait(), 0) << "1 torn, 2 out of order, 3 miscounted, 4 timed out";
  EXPECT_EQ(by_receive.wait(), 0);
  EXPECT_EQ(by_conflate.wait(), 0);
}

// A publisher between its newest_pos and write_pos stores: a conflating reader
// takes the newest message and is then ahead of write_pos. What lies there is
// the previous lap; the reader must wait for the writer, not read it.
TEST(MsgqShm, ReaderAheadOfAPublishInProgressWaits) {
  ScopedPrefix prefix("ahead");
  auto pub = PubSocket::create("ahead", 4096);
  auto sub = SubSocket::create("ahead", {.conflate = true, .ring_size = 4096});
  Ring ring("ahead", 4096);
  RingHeader *h = ring.header();
  for (uint64_t i = 0; i < 100; i++) {  // several laps: stale messages everywhere
    auto p = make_payload(i, 112);
    pub->send(p.data(), p.size());
  }
  uint64_t done_pos = h->write_pos.load();
  auto p = make_payload(100, 112);
  pub->send(p.data(), p.size());
  uint64_t end_pos = h->write_pos.load();
  h->write_pos.store(done_pos);  // message 100 is written, its write_pos store not yet seen
  Message m;
  uint64_t seq;
  ASSERT_TRUE(sub->receive(m, 0));
  ASSERT_TRUE(check_payload(m.data(), m.size(), &seq));
  EXPECT_EQ(seq, 100u);
  EXPECT_FALSE(sub->receive(m, 0));  // the bytes past message 100 are a lap old
  h->write_pos.store(end_pos);
  EXPECT_FALSE(sub->receive(m, 0));
  p = make_payload(101, 112);
  pub->send(p.data(), p.size());
  ASSERT_TRUE(sub->receive(m, 0));
  ASSERT_TRUE(check_payload(m.data(), m.size(), &seq));
  EXPECT_EQ(seq, 101u);
}

// A message commits when its header's size is stored, after its payload:
// until then the slot reads as no message yet, to receive() and to a Poller,
// even with a lap of stale messages around it and write_pos already past it.
TEST(MsgqShm, MessageIsInvisibleUntilItsHeaderCommits) {
  ScopedPrefix prefix("commit");
  auto pub = PubSocket::create("commit", 4096);
  auto sub = SubSocket::create("commit", {.ring_size = 4096});
  auto poller = Poller::create();
  poller->add(*sub);
  Ring ring("commit", 4096);
  Message m;
  uint64_t seq;
  for (uint64_t i = 0; i < 100; i++) {  // several laps: stale messages everywhere
    auto p = make_payload(i, 112);
    pub->send(p.data(), p.size());
    ASSERT_TRUE(sub->receive(m, 0));
  }
  EXPECT_TRUE(poller->poll(0).empty());
  const uint64_t pos = ring.header()->write_pos.load();
  auto p = make_payload(100, 112);
  pub->send(p.data(), p.size());
  MessageHeader *mh = ring.message_at(pos);
  ASSERT_EQ(mh->size.load(), 112u);
  mh->size.store(kNoMessageYet);  // as the publisher holds it before its last store
  EXPECT_TRUE(poller->poll(0).empty());
  EXPECT_FALSE(sub->receive(m, 0));
  mh->size.store(112);
  EXPECT_EQ(poller->poll(0).size(), 1u);
  ASSERT_TRUE(sub->receive(m, 0));
  ASSERT_TRUE(check_payload(m.data(), m.size(), &seq));
  EXPECT_EQ(seq, 100u);
  EXPECT_EQ(sub->lost(), 0u);
}

TEST(MsgqShm, InvalidRingSizeIsRefused) {
  ScopedPrefix prefix("ringsize");
  EXPECT_THROW(PubSocket::create("r", 1000), Error);
  EXPECT_THROW(PubSocket::create("r", 0), Error);
}

TEST(MsgqShm, PublishWithNobodyAsleepLeavesNoSleepers) {
  ScopedPrefix prefix("sleepers");
  auto pub = PubSocket::create("s");
  auto sub = SubSocket::create("s");
  Message m;
  EXPECT_FALSE(sub->receive(m, 5));  // slept and woke by timeout
  Ring ring("s", kDefaultRingSize);
  EXPECT_EQ(ring.header()->sleepers.load(), 0u);  // so the next publish makes no FUTEX_WAKE
}

#include "msgq/introspect.h"

TEST(MsgqShm, IntrospectionSeesPublisherSubscribersAndCount) {
  ScopedPrefix prefix("introspect");
  auto pub = PubSocket::create("seen");
  auto s1 = SubSocket::create("seen");
  auto s2 = SubSocket::create("seen");
  for (int i = 0; i < 7; i++) pub->send("x", 1);
  auto topics = list_topics();
  ASSERT_EQ(topics.size(), 1u);
  EXPECT_EQ(topics[0].name, "seen");
  EXPECT_EQ(topics[0].publisher_pid, getpid());
  EXPECT_EQ(topics[0].subscribers, 2);
  EXPECT_EQ(topics[0].messages, 7u);
  pub.reset();
  EXPECT_EQ(list_topics()[0].publisher_pid, 0);
}
