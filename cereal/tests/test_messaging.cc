// MessageBuilder, PubMaster and SubMaster over the shared-memory bus.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <capnp/dynamic.h>
#include <capnp/schema.h>
#include <gtest/gtest.h>

#include "cereal/event_check.h"
#include "cereal/frequency_tracker.h"
#include "cereal/messaging.h"
#include "common/clock.h"
#include "common/prefix.h"
#include "common/testing/prefix.h"

namespace {

using cereal::MessageBuilder;
using cereal::PubMaster;
using cereal::SubMaster;

constexpr uint64_t kMs = 1000000;

// Each test runs under its own CONDUIT_PREFIX.
class Messaging : public testutil::PrefixTest {};

void send_can(PubMaster &pm, uint32_t address, bool valid = true) {
  MessageBuilder msg;
  auto can = msg.initEvent(valid).initCan(2);
  can[0].setAddress(address);
  can[0].setDat(kj::heapArray<kj::byte>({1, 2, 3}));
  can[1].setAddress(address + 1);
  can[1].setSrc(7);
  pm.send("can", msg);
}

TEST(Services, TableMatchesEventUnion) {
  std::set<std::string> members, services;
  for (auto field : capnp::Schema::from<cereal::Event>().getUnionFields()) {
    members.insert(field.getProto().getName().cStr());
  }
  for (const cereal::Service &s : cereal::kServices) services.insert(std::string(s.name));
  EXPECT_EQ(members, services);
  EXPECT_EQ(cereal::service("roadEncodeData").ring_size, 16u << 20);
  EXPECT_EQ(cereal::service("roadEncodeIdx").decimation, 1);
  EXPECT_THROW(cereal::service("noSuchService"), std::invalid_argument);
}

TEST(MessageBuilder, SetsTimeAndValid) {
  uint64_t before = conduit::mono_ns();
  MessageBuilder msg;
  auto event = msg.initEvent(false);
  uint64_t after = conduit::mono_ns();
  EXPECT_GE(event.getLogMonoTime(), before);
  EXPECT_LE(event.getLogMonoTime(), after);
  EXPECT_FALSE(event.getValid());
  EXPECT_TRUE(MessageBuilder().initEvent().getValid());
}

TEST(MessageBuilder, SerializeMatchesCapnpFraming) {
  MessageBuilder msg;
  auto model = msg.initEvent().initModelV2();
  model.setFrameId(42);
  // Large enough to need more than one segment.
  model.initRawPredictions(300000);
  model.initRowEdges(3).set(2, 1.5f);
  ASSERT_GT(msg.getSegmentsForOutput().size(), 1u);
  std::vector<uint64_t> out;
  size_t size = cereal::serialize(msg, out);
  auto expected = msg.toBytes();
  ASSERT_EQ(size, expected.asBytes().size());
  EXPECT_EQ(0, memcmp(out.data(), expected.begin(), size));
  EXPECT_EQ(size, msg.getSerializedSize());
}

TEST(MessageBuilder, PooledSegmentsAreIndependentAndClean) {
  std::vector<uint64_t> a_bytes;
  {
    MessageBuilder a, b;  // two at once take different segments
    a.initEvent().initCan(1)[0].setAddress(1);
    b.initEvent().initCan(1)[0].setAddress(2);
    cereal::serialize(a, a_bytes);
    EXPECT_EQ(a.getRoot<cereal::Event>().getCan()[0].getAddress(), 1u);
    EXPECT_EQ(b.getRoot<cereal::Event>().getCan()[0].getAddress(), 2u);
  }
  MessageBuilder reused;  // a returned segment comes back zeroed
  auto root = reused.getRoot<cereal::Event>();
  EXPECT_EQ(root.getLogMonoTime(), 0u);
  EXPECT_EQ(root.which(), cereal::Event::INIT_DATA);

  MessageBuilder c;
  c.initEvent().initCan(1)[0].setAddress(1);
  auto flat = c.flatBytesInPlace();
  std::vector<uint64_t> expected;
  size_t size = cereal::serialize(c, expected);
  ASSERT_EQ(flat.size(), size);
  EXPECT_EQ(0, memcmp(flat.begin(), expected.data(), size));

  MessageBuilder big;  // more than one segment: no in-place form
  big.initEvent().initModelV2().initRawPredictions(100000);
  EXPECT_EQ(big.flatBytesInPlace().size(), 0u);
}

TEST(MessageBuilder, ThreadsGiveTheirCachedSegmentBack) {
  std::set<const void *> blocks;
  for (int i = 0; i < 4; ++i) {
    std::thread([&] {
      MessageBuilder m;
      m.initEvent().initCan(1)[0].setAddress(9);
      blocks.insert(m.flatBytesInPlace().begin());
    }).join();  // the thread's cached block goes back to the pool as it exits
  }
  EXPECT_EQ(blocks.size(), 1u);  // each thread took the block the one before gave back
  MessageBuilder reused;
  EXPECT_EQ(reused.getRoot<cereal::Event>().getLogMonoTime(), 0u);  // and it comes back zeroed
}

TEST_F(Messaging, RoundTrip) {
  PubMaster pm({"can"});
  SubMaster sm({"can"});
  EXPECT_FALSE(sm.updated("can"));
  EXPECT_FALSE(sm.alive("can"));
  EXPECT_FALSE(sm.valid("can"));
  EXPECT_EQ(sm["can"].which(), cereal::Event::INIT_DATA);  // a default Event

  uint64_t before = conduit::mono_ns();
  send_can(pm, 0x123);
  sm.update(1000);
  ASSERT_TRUE(sm.updated("can"));
  EXPECT_TRUE(sm.alive("can"));
  EXPECT_TRUE(sm.valid("can"));
  EXPECT_TRUE(sm.allAliveAndValid());
  EXPECT_EQ(sm.rcv_frame("can"), 1u);
  EXPECT_GE(sm.logMonoTime("can"), before);
  EXPECT_GE(sm.rcv_time("can"), sm.logMonoTime("can"));
  auto can = sm["can"].getCan();
  ASSERT_EQ(can.size(), 2u);
  EXPECT_EQ(can[0].getAddress(), 0x123u);
  EXPECT_EQ(can[0].getDat().size(), 3u);
  EXPECT_EQ(can[0].getDat()[2], 3);
  EXPECT_EQ(can[1].getAddress(), 0x124u);
  EXPECT_EQ(can[1].getSrc(), 7);

  sm.update(0);
  EXPECT_FALSE(sm.updated("can"));
  EXPECT_EQ(sm["can"].getCan()[0].getAddress(), 0x123u);  // the newest message stays
  EXPECT_EQ(sm.frame(), 2u);

  send_can(pm, 0x200, false);
  sm.update(1000);
  EXPECT_TRUE(sm.updated("can"));
  EXPECT_FALSE(sm.valid("can"));
  EXPECT_FALSE(sm.allValid());
}

TEST_F(Messaging, HeldMessageOutlivesUpdates) {
  PubMaster pm({"can"});
  SubMaster sm({"can"});
  send_can(pm, 1);
  sm.update(1000);
  auto held = sm.message("can");
  ASSERT_NE(held, nullptr);
  for (uint32_t i = 2; i < 6; ++i) {
    send_can(pm, i);
    sm.update(1000);
    EXPECT_EQ(sm["can"].getCan()[0].getAddress(), i);
  }
  EXPECT_EQ(held->event.getCan()[0].getAddress(), 1u);
}

TEST_F(Messaging, BadMessagesAreDroppedAndCounted) {
  PubMaster pm({"can", "sensorEvents"});
  SubMaster sm({"can"});
  send_can(pm, 7);
  sm.update(1000);
  ASSERT_TRUE(sm.updated("can"));

  const char garbage[16] = {9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8};
  pm.send("can", garbage, sizeof(garbage));  // segment table claims 10^8 segments
  sm.update(1000);
  EXPECT_FALSE(sm.updated("can"));
  pm.send("can", garbage, 5);  // not a whole number of words
  sm.update(1000);
  EXPECT_FALSE(sm.updated("can"));

  MessageBuilder other;
  other.initEvent().initSensorEvents(1);
  auto bytes = other.toBytes();
  pm.send("can", bytes.asBytes().begin(), bytes.asBytes().size());  // wrong union member
  sm.update(1000);
  EXPECT_FALSE(sm.updated("can"));

  EXPECT_EQ(sm.bad_messages("can"), 3u);
  EXPECT_EQ(sm["can"].getCan()[0].getAddress(), 7u);  // the last good message is kept
}

// Messages that are not the one-segment shape PubMaster sends go through capnp's
// own reader: accepted when capnp reads them, counted as bad when it cannot.
TEST_F(Messaging, UnusualShapesAreCheckedByCapnp) {
  PubMaster pm({"can", "modelV2"});
  SubMaster sm({"can", "modelV2"});

  MessageBuilder big;  // several segments
  auto model = big.initEvent(false).initModelV2();
  model.setFrameId(99);
  model.initRawPredictions(300000);
  ASSERT_GT(big.getSegmentsForOutput().size(), 1u);
  uint64_t mono = big.getRoot<cereal::Event>().getLogMonoTime();
  pm.send("modelV2", big);
  sm.update(1000);
  ASSERT_TRUE(sm.updated("modelV2"));
  EXPECT_FALSE(sm.valid("modelV2"));
  EXPECT_EQ(sm.logMonoTime("modelV2"), mono);
  EXPECT_EQ(sm["modelV2"].getModelV2().getFrameId(), 99u);

  MessageBuilder good;
  good.initEvent().initCan(1)[0].setAddress(42);
  auto flat = good.toBytes();
  std::vector<capnp::word> words(flat.begin(), flat.end());
  auto send_words = [&](const std::vector<capnp::word> &w) {
    pm.send("can", w.data(), w.size() * sizeof(capnp::word));
    sm.update(0);  // already in the ring
    return sm.updated("can");
  };
  auto root = [](std::vector<capnp::word> &w) { return reinterpret_cast<uint64_t *>(&w[1]); };

  EXPECT_TRUE(send_words(words));  // the usual shape
  EXPECT_TRUE(sm.valid("can"));
  EXPECT_EQ(sm.logMonoTime("can"), good.getRoot<cereal::Event>().getLogMonoTime());

  auto trailing = words;  // bytes after the segment: capnp ignores them
  trailing.push_back(capnp::word());
  EXPECT_TRUE(send_words(trailing));
  EXPECT_EQ(sm["can"].getCan()[0].getAddress(), 42u);

  auto null_root = words;  // a default Event: initData, not can
  *root(null_root) = 0;
  EXPECT_FALSE(send_words(null_root));

  auto list_root = words;  // a list pointer where the root struct belongs
  *root(list_root) |= 1;
  EXPECT_FALSE(send_words(list_root));

  auto outside = words;  // the root struct reaches past the segment
  *root(outside) += uint64_t(1000) << 2;
  EXPECT_FALSE(send_words(outside));

  auto short_table = words;  // the segment table claims more words than sent
  reinterpret_cast<uint32_t *>(&short_table[0])[1] += 1;
  EXPECT_FALSE(send_words(short_table));

  EXPECT_EQ(sm.bad_messages("can"), 4u);
  EXPECT_EQ(sm.bad_messages("modelV2"), 0u);
}

// SubMaster reads the header of the usual message shape itself: for any bytes,
// it must accept exactly what capnp's reader accepts (within the traversal
// limit SubMaster allows) and read the same values.
TEST_F(Messaging, AcceptsWhatCapnpAcceptsAndReadsTheSame) {
  PubMaster pm({"can"});
  SubMaster sm({"can"});
  MessageBuilder good;
  auto can = good.initEvent(false).initCan(2);
  can[0].setAddress(5);
  can[1].setDat(kj::heapArray<kj::byte>({1, 2, 3}));
  auto flat = good.toBytes();
  std::mt19937_64 rng(7);
  size_t accepted = 0, rejected = 0;
  for (int i = 0; i < 4000; ++i) {
    std::vector<capnp::word> w(flat.begin(), flat.end());
    auto *bytes = reinterpret_cast<uint8_t *>(w.data());
    auto *root = reinterpret_cast<uint64_t *>(&w[1]);
    switch (rng() % 6) {
      case 0: {  // another struct pointer: offset, data and pointer section sizes
        int32_t offset = int32_t(rng() % 24) - 4;
        *root = (uint64_t(uint32_t(offset) << 2)) | (uint64_t(rng() % 4) << 32) | (uint64_t(rng() % 3) << 48);
        break;
      }
      case 1: *root ^= uint64_t(1) << (rng() % 64); break;          // one bit of the root pointer
      case 2: bytes[16 + rng() % 24] ^= uint8_t(1 + rng() % 255); break;  // the Event's data section
      case 3: reinterpret_cast<uint32_t *>(bytes)[rng() % 2] += uint32_t(rng() % 3) - 1; break;  // table
      case 4: w.push_back(capnp::word()); break;                    // a trailing word
      case 5: w.pop_back(); break;                                  // a missing word
    }
    bool ok = false, valid = false;
    uint64_t mono = 0;
    try {  // capnp reads the whole message: every pointer a can Event has
      capnp::FlatArrayMessageReader reader(kj::arrayPtr(w.data(), w.size()), cereal::event_reader_options(w.size()));
      auto event = reader.getRoot<cereal::Event>();
      if (event.which() == cereal::Event::CAN) {
        for (auto frame : event.getCan()) frame.getDat();
        ok = true;
      }
      valid = event.getValid();
      mono = event.getLogMonoTime();
    } catch (const kj::Exception &) {
      ok = false;
    }
    pm.send("can", w.data(), w.size() * sizeof(capnp::word));
    sm.update(0);
    ASSERT_EQ(sm.updated("can"), ok) << "case " << i;
    if (ok) {
      ++accepted;
      EXPECT_EQ(sm.valid("can"), valid) << "case " << i;
      EXPECT_EQ(sm.logMonoTime("can"), mono) << "case " << i;
    } else {
      ++rejected;
    }
  }
  EXPECT_GT(accepted, 400u);  // both outcomes really occur
  EXPECT_GT(rejected, 400u);
  EXPECT_EQ(sm.bad_messages("can"), rejected);
}

// The word of `w` that is a list pointer to `count` 4-byte elements (capnp's
// element size code 4): where a test poisons a message.
uint64_t &float_list_pointer(std::vector<capnp::word> &w, uint32_t count) {
  for (auto &word : w) {
    uint64_t &v = reinterpret_cast<uint64_t &>(word);
    if ((v & 3) == 1 && ((v >> 32) & 7) == 4 && (v >> 35) == count) return v;
  }
  throw std::logic_error("no such list pointer");
}

std::vector<capnp::word> calibration_words() {
  MessageBuilder msg;
  auto cal = msg.initEvent().initLiveCalibration();
  auto m = cal.initWarpMatrix(9);
  for (unsigned i = 0; i < 9; ++i) m.set(i, float(i));
  cal.initRpyCalib(3);
  auto flat = msg.toBytes();
  return std::vector<capnp::word>(flat.begin(), flat.end());
}

// A pointer below the Event's head that capnp cannot follow: the head is fine,
// so only reading the whole message finds it. Such a message must never reach
// a consumer (whose read would throw, and abort a process that does not catch).
TEST_F(Messaging, PoisonedPointersAreDroppedBeforeAnyoneReadsThem) {
  PubMaster pm({"liveCalibration"});
  SubMaster sm({"liveCalibration"});
  auto good = calibration_words();
  pm.send("liveCalibration", good.data(), good.size() * sizeof(capnp::word));
  sm.update(1000);
  ASSERT_TRUE(sm.updated("liveCalibration"));

  auto outside = good;  // the warp matrix lies past the end of the segment
  float_list_pointer(outside, 9) |= uint64_t(0x1fffffff) << 2;  // the largest forward offset
  auto far = good;  // a far pointer into a segment the message does not have
  float_list_pointer(far, 9) = uint64_t(5) << 32 | 2;
  auto kind = good;  // a struct pointer where the float list belongs
  float_list_pointer(kind, 9) &= ~uint64_t(3);
  for (auto *poison : {&outside, &far, &kind}) {
    EXPECT_TRUE(cereal::event_problem(kj::arrayPtr(poison->data(), poison->size())));
    pm.send("liveCalibration", poison->data(), poison->size() * sizeof(capnp::word));
    sm.update(0);
    EXPECT_FALSE(sm.updated("liveCalibration"));
  }
  EXPECT_EQ(sm.bad_messages("liveCalibration"), 3u);
  EXPECT_FLOAT_EQ(sm["liveCalibration"].getLiveCalibration().getWarpMatrix()[8], 8.0f);  // the last good one
}

// A list that claims millions of zero-sized elements in a few bytes (found by
// the event_head fuzzer): under capnp's default traversal limit a 200-byte
// message cost every reader 8 Mi steps. Reading may cost twice a message's size.
TEST_F(Messaging, AmplifiedMessagesAreRefusedByTheirSize) {
  MessageBuilder model;
  model.initEvent().initModelV2().initLaneLines(1)[0].initX(1).set(0, 1.0f);
  auto flat = model.toBytes();
  std::vector<capnp::word> w(flat.begin(), flat.end());
  auto *u = reinterpret_cast<uint64_t *>(w.data());
  const uint64_t tag = uint64_t(4) << 48 | 1 << 2;  // one element of 0 data and 4 pointer words
  uint64_t *lanes_tag = std::find(u, u + w.size(), tag);
  ASSERT_NE(lanes_tag, u + w.size());
  const auto words = kj::arrayPtr(w.data(), w.size());

  *lanes_tag = 4 << 2;  // four zero-sized elements: a few steps
  EXPECT_FALSE(cereal::event_problem(words));
  EXPECT_TRUE(cereal::event_readable_fast(words));
  for (uint64_t n : {uint64_t(2 * w.size() + 1), uint64_t(8'000'000)}) {
    *lanes_tag = n << 2;
    EXPECT_NE(cereal::event_problem(words).value_or("").find("traversal limit"), std::string::npos) << n;
    EXPECT_FALSE(cereal::event_readable_fast(words)) << n;
  }
  PubMaster pm({"modelV2"});
  SubMaster sm({"modelV2"});
  pm.send("modelV2", w.data(), w.size() * sizeof(capnp::word));
  sm.update(1000);
  EXPECT_FALSE(sm.updated("modelV2"));
  EXPECT_EQ(sm.bad_messages("modelV2"), 1u);
}

// event_problem() reads through the schema: text must end in NUL, the active
// union member of a nested struct is visited, lists of structs element by element.
TEST(EventCheck, FindsWhatReadingTheSchemaWouldThrowOn) {
  auto check = [](MessageBuilder &msg) {
    auto flat = msg.toBytes();
    return cereal::event_problem(flat.asPtr());
  };
  MessageBuilder log;
  log.initEvent().initLogMessage().setMessage("hello");
  ASSERT_FALSE(check(log));
  auto flat = log.toBytes();
  std::vector<capnp::word> words(flat.begin(), flat.end());
  auto *bytes = reinterpret_cast<char *>(words.data());
  const size_t at = std::string_view(bytes, words.size() * 8).find("hello");
  ASSERT_NE(at, std::string_view::npos);
  bytes[at + 5] = '!';  // overwrite the NUL that ends the text
  EXPECT_TRUE(cereal::event_problem(kj::arrayPtr(words.data(), words.size())));

  MessageBuilder state;  // struct lists are visited element by element
  auto procs = state.initEvent().initManagerState().initProcesses(3);
  procs[2].setName("modeld");
  ASSERT_FALSE(check(state));
  auto sflat = state.toBytes();
  std::vector<capnp::word> sw(sflat.begin(), sflat.end());
  auto *sb = reinterpret_cast<char *>(sw.data());
  const size_t name_at = std::string_view(sb, sw.size() * 8).find("modeld");
  ASSERT_NE(name_at, std::string_view::npos);
  sb[name_at + 6] = 'x';
  EXPECT_TRUE(cereal::event_problem(kj::arrayPtr(sw.data(), sw.size())));

  EXPECT_TRUE(cereal::event_problem(kj::arrayPtr(sw.data(), 1)));  // truncated
}

// The reference for event_check: every field the schema reaches, read
// through capnp's dynamic API (slow, and independent of event_check's tables).
void read_all(capnp::DynamicValue::Reader v);
void read_all_struct(capnp::DynamicStruct::Reader s) {
  for (auto field : s.getSchema().getNonUnionFields()) read_all(s.get(field));
  KJ_IF_MAYBE(active, s.which()) { read_all(s.get(*active)); }
}
void read_all(capnp::DynamicValue::Reader v) {
  if (v.getType() == capnp::DynamicValue::STRUCT) read_all_struct(v.as<capnp::DynamicStruct>());
  if (v.getType() == capnp::DynamicValue::LIST) {
    for (auto element : v.as<capnp::DynamicList>()) read_all(element);
  }
}
bool dynamic_reads_all(const std::vector<capnp::word> &w) {
  try {
    capnp::FlatArrayMessageReader msg(kj::arrayPtr(w.data(), w.size()));
    read_all_struct(msg.getRoot<capnp::DynamicStruct>(capnp::Schema::from<cereal::Event>()));
    return true;
  } catch (const kj::Exception &) {
    return false;
  }
}

// Differential: over mutated messages of several shapes, the raw-word walk
// never accepts what capnp refuses, and what event_check accepts, capnp's
// dynamic API reads in full; both outcomes really occur.
TEST(EventCheck, AcceptsOnlyWhatCapnpReadsInFull) {
  std::vector<std::vector<capnp::word>> seeds;
  auto add = [&](MessageBuilder &m) {
    auto f = m.toBytes();
    seeds.emplace_back(f.begin(), f.end());
  };
  MessageBuilder can;
  auto frames = can.initEvent().initCan(3);
  frames[1].setDat(kj::heapArray<kj::byte>({1, 2, 3, 4, 5, 6, 7, 8, 9}));
  add(can);
  MessageBuilder state;
  auto procs = state.initEvent().initManagerState().initProcesses(3);
  procs[0].setName("camerad");
  procs[2].setName("modeld");
  add(state);
  MessageBuilder model;
  auto m = model.initEvent().initModelV2();
  m.initRowEdges(4).set(3, 2.5f);
  m.initRawPredictions(64);
  add(model);
  MessageBuilder log;
  log.initEvent().initLogMessage().setMessage("a message of some length");
  add(log);
  MessageBuilder plain;  // no union member set: initData
  plain.initEvent();
  add(plain);
  seeds.push_back(calibration_words());

  std::mt19937_64 rng(11);
  size_t fast = 0, capnp_only = 0, refused = 0;
  for (int i = 0; i < 6000; ++i) {
    auto w = seeds[rng() % seeds.size()];
    auto *u = reinterpret_cast<uint64_t *>(w.data());
    for (int k = 0, n = 1 + int(rng() % 3); k < n; ++k) {
      const size_t at = 1 + rng() % (w.size() - 1);
      switch (rng() % 4) {
        case 0: u[at] ^= uint64_t(1) << (rng() % 64); break;                      // a bit
        case 1: u[at] = (u[at] & ~uint64_t(0xffffffff)) | (rng() & 0xffffffff); break;  // offset and kind
        case 2: u[at] = (u[at] & 0xffffffff) | (rng() << 32); break;              // sizes and counts
        case 3: u[at] = rng(); break;                                            // anything
      }
    }
    const auto words = kj::arrayPtr(w.data(), w.size());
    const bool by_fast = cereal::event_readable_fast(words), by_capnp = cereal::event_readable_by_capnp(words);
    ASSERT_TRUE(!by_fast || by_capnp) << "case " << i << ": the raw walk accepted what capnp refuses";
    ASSERT_EQ(!cereal::event_problem(words), by_capnp) << "case " << i;
    if (by_capnp) ASSERT_TRUE(dynamic_reads_all(w)) << "case " << i << ": accepted, but a full read throws";
    (by_fast ? fast : by_capnp ? capnp_only : refused)++;
  }
  EXPECT_GT(fast, 600u);
  EXPECT_GT(refused, 600u);
  for (auto &seed : seeds) EXPECT_TRUE(cereal::event_readable_fast(kj::arrayPtr(seed.data(), seed.size())));
}

TEST_F(Messaging, UpdateInSteps) {
  PubMaster pm({"can"});
  SubMaster sm({"can"});
  EXPECT_FALSE(sm.beginUpdate());  // nothing waiting
  send_can(pm, 3);
  sm.wait(1000);  // returns at once: a message is there
  sm.endUpdate();
  ASSERT_TRUE(sm.updated("can"));  // taken after the wait
  EXPECT_EQ(sm.rcv_frame("can"), 1u);
  EXPECT_TRUE(sm.alive("can"));

  send_can(pm, 4);
  EXPECT_TRUE(sm.beginUpdate(5 * kMs));  // taken without waiting
  sm.endUpdate(5 * kMs);
  EXPECT_TRUE(sm.updated("can"));
  EXPECT_EQ(sm.rcv_time("can"), 5 * kMs);
  EXPECT_EQ(sm.frame(), 2u);
  EXPECT_EQ(sm["can"].getCan()[0].getAddress(), 4u);
}

// A message's receive time is the clock read when the pass that took it began
// (messaging.h): a message that arrives during the wait is taken by the pass
// after the wait, so it is not dated before it was sent; an update that takes
// nothing reads the clock too, so alive follows real time.
TEST_F(Messaging, ReceiveTimeIsReadByThePassThatTakesTheMessage) {
  PubMaster pm({"can"});
  SubMaster sm({"can"});
  uint64_t begun = conduit::mono_ns();
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    send_can(pm, 5);
  });
  sm.update(1000);
  uint64_t done = conduit::mono_ns();
  late.join();
  ASSERT_TRUE(sm.updated("can"));
  EXPECT_GE(sm.logMonoTime("can"), begun + 20 * kMs);
  EXPECT_GE(sm.rcv_time("can"), sm.logMonoTime("can"));
  EXPECT_LE(sm.rcv_time("can"), done);

  // Two updates that take nothing: alive for 10 periods (100 ms at 100 Hz),
  // then not. The first is given its clock (a loaded host may take 100 ms
  // between two statements); the second reads it, 120 ms or more later.
  sm.update(0, sm.rcv_time("can") + 99 * kMs);
  EXPECT_FALSE(sm.updated("can"));
  EXPECT_TRUE(sm.alive("can"));
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  sm.update(0);
  EXPECT_FALSE(sm.alive("can"));
  EXPECT_LE(sm.rcv_time("can"), done);  // unchanged
}

TEST_F(Messaging, AliveAndFreqOkFollowTheRate) {
  PubMaster pm({"modelV2"});  // 20 Hz
  SubMaster sm({"modelV2"}, {"modelV2"});  // polled: freq_ok within 16..24 Hz
  auto run = [&](int n, uint64_t period, uint64_t &t) {
    for (int i = 0; i < n; ++i, t += period) {
      MessageBuilder msg;
      msg.initEvent().initModelV2();
      pm.send("modelV2", msg);
      sm.update(1000, t);
      ASSERT_TRUE(sm.updated("modelV2"));
    }
  };
  uint64_t t = 1000 * kMs;
  EXPECT_FALSE(sm.alive("modelV2"));
  EXPECT_FALSE(sm.freq_ok("modelV2"));
  run(30, 50 * kMs, t);  // exactly 20 Hz
  EXPECT_TRUE(sm.alive("modelV2"));
  EXPECT_TRUE(sm.freq_ok("modelV2"));
  run(30, 100 * kMs, t);  // 10 Hz: the last 20 intervals and the mean of all are too slow
  EXPECT_TRUE(sm.alive("modelV2"));
  EXPECT_FALSE(sm.freq_ok("modelV2"));
  run(30, 50 * kMs, t);  // back to 20 Hz: the last 20 intervals are
  EXPECT_TRUE(sm.freq_ok("modelV2"));

  uint64_t last = sm.rcv_time("modelV2");
  EXPECT_EQ(last, t - 50 * kMs);
  sm.update(0, last + 499 * kMs);  // silence: alive for 10 periods, then dead
  EXPECT_TRUE(sm.alive("modelV2"));
  sm.update(0, last + 501 * kMs);
  EXPECT_FALSE(sm.alive("modelV2"));
  EXPECT_FALSE(sm.allAlive());
}

// openpilot's bounds (cereal/frequency_tracker.h), for each relation of the
// service's rate to the loop's.
TEST(FrequencyTracker, Bounds) {
  struct Case {
    double service_hz, update_hz;
    bool polled;
    double min_hz, max_hz;
  } cases[] = {
      {20, 20, true, 16, 24},     // the polled service: its own rate
      {20, 20, false, 8, 24},     // as fast as the loop: half of it will do
      {100, 20, false, 16, 24},   // far faster than the loop: seen at the loop's rate
      {5, 100, false, 4, 6},      // far slower than the loop: its own rate
      {0.5, 20, false, 0.8, 1.2}, // slower than 1 Hz: judged as 1 Hz
  };
  for (const Case &c : cases) {
    cereal::FrequencyTracker f(c.service_hz, c.update_hz, c.polled);
    EXPECT_NEAR(f.min_hz(), c.min_hz, 1e-9) << c.service_hz << " Hz in a " << c.update_hz << " Hz loop";
    EXPECT_NEAR(f.max_hz(), c.max_hz, 1e-9) << c.service_hz << " Hz in a " << c.update_hz << " Hz loop";
  }
}

// ok() looks at the mean of the last 10 f intervals, and else of the last f.
TEST(FrequencyTracker, MeanOverTheLongAndTheRecentWindow) {
  cereal::FrequencyTracker f(20, 20, true);  // 16..24 Hz, windows of 200 and 20 intervals
  uint64_t t = 1'000'000'000;
  auto run = [&](int n, uint64_t period) {
    for (int i = 0; i < n; ++i, t += period) f.record(t);
  };
  EXPECT_FALSE(f.ok());
  run(1, 50 * kMs);
  EXPECT_FALSE(f.ok()) << "one receipt is no interval";
  run(1, 50 * kMs);
  EXPECT_TRUE(f.ok());
  run(200, 40 * kMs);  // 25 Hz throughout: both windows too fast
  EXPECT_FALSE(f.ok());
  f = cereal::FrequencyTracker(20, 20, true);
  run(181, 55 * kMs);  // 18.2 Hz
  run(20, 40 * kMs);   // 25 Hz lately, yet the long mean is within bounds
  EXPECT_TRUE(f.ok());
  run(200, 70 * kMs);  // 14.3 Hz: out
  EXPECT_FALSE(f.ok());
  run(20, 50 * kMs);   // the recent window recovers first
  EXPECT_TRUE(f.ok());
}

TEST_F(Messaging, IgnoreAliveAndIrregularServices) {
  SubMaster sm({"modelV2", "logMessage"}, {}, {"modelV2"});
  sm.update(0);
  EXPECT_TRUE(sm.alive("logMessage"));  // frequency 0: on demand, always alive, as in openpilot
  EXPECT_TRUE(sm.valid("logMessage"));
  EXPECT_TRUE(sm.freq_ok("logMessage"));
  EXPECT_FALSE(sm.alive("modelV2"));
  EXPECT_FALSE(sm.valid("modelV2"));
  EXPECT_TRUE(sm.allAlive());  // modelV2 ignored
  EXPECT_TRUE(sm.allAlive({"modelV2"}));  // ignored there too

  PubMaster pm({"logMessage"});
  MessageBuilder msg;
  msg.initEvent(false).initLogMessage().setMessage("hello");
  pm.send("logMessage", msg);
  sm.update(1000);
  EXPECT_TRUE(sm.alive("logMessage"));
  EXPECT_FALSE(sm.valid("logMessage"));  // the message says so
  EXPECT_EQ(std::string(sm["logMessage"].getLogMessage().getMessage().cStr()), "hello");
}

TEST_F(Messaging, PollSubsetWaitsOnlyForIt) {
  PubMaster pm({"can", "modelV2"});
  SubMaster sm({"can", "modelV2"}, {"modelV2"});
  send_can(pm, 5);
  uint64_t start = conduit::mono_ns();
  sm.update(100);  // can alone does not end the wait ...
  EXPECT_GE(conduit::mono_ns() - start, 90 * kMs);
  EXPECT_TRUE(sm.updated("can"));  // ... but is taken once it ends
  EXPECT_FALSE(sm.updated("modelV2"));
}

TEST_F(Messaging, UnknownNamesThrow) {
  EXPECT_THROW(PubMaster({"noSuchService"}), std::invalid_argument);
  EXPECT_THROW(SubMaster({"noSuchService"}), std::invalid_argument);
  EXPECT_THROW(SubMaster({"can", "can"}), std::invalid_argument);
  PubMaster pm({"can"});
  MessageBuilder msg;
  msg.initEvent().initCan(0);
  EXPECT_THROW(pm.send("modelV2", msg), std::invalid_argument);
  SubMaster sm({"can"});
  EXPECT_THROW(sm.alive("modelV2"), std::invalid_argument);
}

}  // namespace
