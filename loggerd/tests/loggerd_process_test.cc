// loggerd as a process: rotation and decimation counts, sentinels, video files,
// SIGKILL at random moments, pwrite vs io_uring, disk full, locks after stop.
#include <capnp/dynamic.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "cereal/messaging.h"
#include "common/clock.h"
#include "loggerd/log_file_reader.h"
#include "loggerd/log_reader.h"
#include "loggerd/route.h"
#include "loggerd/tests/av_util.h"
#include "loggerd/tests/test_util.h"
#include "common/testing/child.h"
#include "common/testing/prefix.h"
#include "common/testing/wait.h"

using namespace loggerd_test;
namespace fs = std::filesystem;

namespace {

std::string loggerd_bin() {
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path().string() + "/bin/loggerd";
}

using testutil::wait_for;

class Loggerd {
 public:
  Loggerd(const std::string &root, const std::string &route, std::map<std::string, std::string> env = {},
          std::vector<std::string> args = {})
      : root_(root), route_(route), log_(root + "/" + route + ".stderr"),
        child_(start(root, route, log_, std::move(env), std::move(args))) {}
  // Ready once segment 0's rlog exists: the sockets were created before it.
  bool wait_ready() {
    return wait_for([&] { return exists(segment(0) + "/rlog.zst"); });
  }
  std::string segment(int n) const { return root_ + "/" + route_ + "--" + std::to_string(n); }
  bool alive() const { return child_.alive(); }
  // Sends `sig` and returns the exit status (or 128 + the signal).
  int stop(int sig) { return child_.stop(sig); }
  std::string stderr_text() const { return slurp(log_); }

 private:
  static testutil::Child start(const std::string &root, const std::string &route, const std::string &log,
                               std::map<std::string, std::string> env, std::vector<std::string> args) {
    env["CONDUIT_LOG_ROOT"] = root;
    env["LOGGERD_ROUTE"] = route;
    args.insert(args.begin(), loggerd_bin());
    return testutil::Child(args, {env, log});
  }
  std::string root_, route_, log_;
  testutil::Child child_;
};

struct Read {
  std::vector<std::string> which;
  std::vector<std::string> bytes;
  std::vector<std::string> warnings;
  size_t count(const std::string &w) const { return std::count(which.begin(), which.end(), w); }
};

Read read_log(const std::string &path) {
  Read r;
  loggerd::LogReader lr(path);
  while (lr.next()) {
    KJ_IF_MAYBE(f, capnp::toDynamic(lr.event()).which()) { r.which.push_back(f->getProto().getName().cStr()); }
    else r.which.push_back("?");
    r.bytes.emplace_back(lr.bytes());
  }
  r.warnings = lr.warnings();
  return r;
}

void publish_packet(cereal::PubMaster &pm, const char *service, int segment, uint32_t i, bool key, std::string *file,
                    std::vector<std::string> *packets = nullptr) {
  cereal::MessageBuilder b;
  auto ev = b.initEvent();
  ev.setLogMonoTime(1000000 + segment * 1000 + i);
  cereal::EncodeData::Builder ed = std::string(service) == "roadEncodeData" ? ev.initRoadEncodeData() : ev.initQRoadEncodeData();
  auto idx = ed.initIdx();
  idx.setSegmentNum(segment);
  idx.setSegmentIdEncode(i);
  idx.setEncodeId(segment * 100 + i);
  idx.setFlags(key ? cereal::EncodeIndex::FLAG_KEYFRAME : 0);
  idx.setTimestampSof(uint64_t(segment * 100 + i) * 50'000'000ull);
  idx.setWidth(320);
  idx.setHeight(240);
  std::string header = key ? std::string("\0\0\0\1\x67", 5) + "HDR" + std::to_string(segment) : "";
  std::string data = std::string("\0\0\0\1\x65", 5) + service + "/" + std::to_string(segment) + "/" + std::to_string(i) + std::string(100 + i, 'x');
  if (key) ed.setHeader(kj::arrayPtr(reinterpret_cast<const uint8_t *>(header.data()), header.size()));
  ed.setData(kj::arrayPtr(reinterpret_cast<const uint8_t *>(data.data()), data.size()));
  idx.setLen(data.size());
  if (file) *file += header + data;
  if (packets) packets->push_back(header + data);
  pm.send(service, b);
}

void publish_can(cereal::PubMaster &pm, uint32_t i) {
  cereal::MessageBuilder b;
  auto ev = b.initEvent();
  ev.setLogMonoTime(5000000 + i);
  ev.initCan(1)[0].setAddress(i);
  pm.send("can", b);
}

uint64_t checksum(uint64_t seq, kj::ArrayPtr<const uint8_t> payload) {
  uint64_t h = 1469598103934665603ull ^ seq;
  for (uint8_t c : payload) h = (h ^ c) * 1099511628211ull;
  return h;
}

void publish_test_message(cereal::PubMaster &pm, uint64_t seq, size_t size, std::mt19937_64 &rng) {
  cereal::MessageBuilder b;
  auto ev = b.initEvent();
  ev.setLogMonoTime(9000000 + seq);
  auto t = ev.initTestMessage();
  t.setSeq(seq);
  auto p = t.initPayload(size);
  for (size_t i = 0; i < size; ++i) p[i] = uint8_t(rng());
  t.setChecksum(checksum(seq, p));
  pm.send("testMessage", b);
}

class LoggerdProcess : public testutil::PrefixTest {
 protected:
  std::vector<std::string> locks(const std::string &root) {
    std::vector<std::string> out;
    for (auto &e : fs::recursive_directory_iterator(root))
      if (e.path().extension() == ".lock") out.push_back(e.path().string());
    return out;
  }
  TempDir dir;
};

}  // namespace

TEST_F(LoggerdProcess, RotationFollowsEncodersWithExactCounts) {
  Loggerd d(dir.path, "rot", {{"LOGGERD_SEGMENT_SECONDS", "1000"}});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  cereal::PubMaster pm({"roadEncodeData", "qRoadEncodeData", "can"});
  std::string fcam[3], qcam[3];
  std::vector<std::string> qpkts[3];
  const int can_per_segment[3] = {250, 120, 7};
  const int packets[3] = {10, 9, 1};
  for (int seg = 0; seg < 3; ++seg) {
    if (seg > 0) {
      // Both encoders move on; loggerd rotates once both did, the held keyframes open the new segment.
      publish_packet(pm, "roadEncodeData", seg, 0, true, &fcam[seg]);
      EXPECT_FALSE(wait_for([&] { return exists(d.segment(seg)); }, 0.3)) << "rotated before every encoder moved";
      publish_packet(pm, "qRoadEncodeData", seg, 0, true, &qcam[seg], &qpkts[seg]);
      ASSERT_TRUE(wait_for([&] { return exists(d.segment(seg) + "/rlog.zst"); })) << d.stderr_text();
    } else {
      publish_packet(pm, "roadEncodeData", 0, 99, false, nullptr);  // before any keyframe: never written
      publish_packet(pm, "roadEncodeData", 0, 0, true, &fcam[0]);
      publish_packet(pm, "qRoadEncodeData", 0, 0, true, &qcam[0], &qpkts[0]);
    }
    for (int i = 0; i < can_per_segment[seg]; ++i) publish_can(pm, seg * 1000 + i);
    for (int i = 1; i < packets[seg]; ++i) {
      publish_packet(pm, "roadEncodeData", seg, i, false, &fcam[seg]);
      publish_packet(pm, "qRoadEncodeData", seg, i, false, &qcam[seg], &qpkts[seg]);
    }
  }
  // Every segment has started: what loggerd drains after the signal is kept.
  EXPECT_EQ(d.stop(SIGINT), 0);
  EXPECT_TRUE(locks(dir.path).empty());
  EXPECT_FALSE(exists(d.segment(3)));

  for (int seg = 0; seg < 3; ++seg) {
    SCOPED_TRACE("segment " + std::to_string(seg));
    Read r = read_log(d.segment(seg) + "/rlog.zst");
    Read q = read_log(d.segment(seg) + "/qlog.zst");
    EXPECT_TRUE(r.warnings.empty() && q.warnings.empty());
    for (Read *l : {&r, &q}) {
      ASSERT_GE(l->which.size(), 3u);
      EXPECT_EQ(l->which[0], "initData");
      EXPECT_EQ(l->which[1], "sentinel");
      EXPECT_EQ(l->which.back(), "sentinel");
      EXPECT_EQ(l->count("sentinel"), 2u);
      EXPECT_EQ(l->count("roadEncodeIdx"), size_t(packets[seg]));
      EXPECT_EQ(l->count("qRoadEncodeIdx"), size_t(packets[seg]));
    }
    EXPECT_EQ(r.count("can"), size_t(can_per_segment[seg]));
    EXPECT_EQ(q.count("can"), size_t((can_per_segment[seg] + 99) / 100));  // decimation 100, first kept
    capnp::FlatArrayMessageReader first(kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(r.bytes[1].data()), r.bytes[1].size() / 8));
    auto start = first.getRoot<cereal::Event>().getSentinel();
    EXPECT_EQ(start.getType(), seg == 0 ? cereal::Sentinel::SentinelType::START_OF_ROUTE : cereal::Sentinel::SentinelType::START_OF_SEGMENT);
    capnp::FlatArrayMessageReader last(kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(r.bytes.back().data()), r.bytes.back().size() / 8));
    auto end = last.getRoot<cereal::Event>().getSentinel();
    EXPECT_EQ(end.getType(), seg == 2 ? cereal::Sentinel::SentinelType::END_OF_ROUTE : cereal::Sentinel::SentinelType::END_OF_SEGMENT);
    EXPECT_EQ(end.getSignal(), seg == 2 ? SIGINT : 0);
    EXPECT_EQ(end.getSegmentNum(), seg);
    EXPECT_EQ(slurp(d.segment(seg) + "/fcamera.hevc"), fcam[seg]);
    // qcamera.ts: an MPEG-TS whose packets carry what was published (the muxer may prefix an access unit delimiter).
    auto ts = demux(d.segment(seg) + "/qcamera.ts");
    ASSERT_EQ(ts.size(), qpkts[seg].size());
    for (size_t k = 0; k < ts.size(); ++k) {
      ASSERT_GE(ts[k].size(), qpkts[seg][k].size());
      EXPECT_EQ(ts[k].substr(ts[k].size() - qpkts[seg][k].size()), qpkts[seg][k]) << "packet " << k;
    }
  }
  std::string b0 = read_log(d.segment(0) + "/rlog.zst").bytes[0];
  capnp::FlatArrayMessageReader msg(kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(b0.data()), b0.size() / 8));
  auto init = msg.getRoot<cereal::Event>().getInitData();
  EXPECT_EQ(std::string(init.getRouteName().cStr()), "rot");
  EXPECT_NE(std::string(init.getKernelVersion().cStr()), "");
  EXPECT_NE(std::string(init.getHostname().cStr()), "");
  EXPECT_NE(std::string(init.getVersion().cStr()), "");
  EXPECT_GT(init.getWallTimeNanos(), 1600000000ull * 1000000000ull);
}

TEST_F(LoggerdProcess, TimerRotatesWithoutEncodersAndSigtermEndsRoute) {
  Loggerd d(dir.path, "timer", {{"LOGGERD_SEGMENT_SECONDS", "0.5"}});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  ASSERT_TRUE(wait_for([&] { return exists(d.segment(2) + "/rlog.zst"); })) << d.stderr_text();
  EXPECT_EQ(d.stop(SIGTERM), 0);
  EXPECT_TRUE(locks(dir.path).empty());
  int last = 2;
  while (exists(d.segment(last + 1))) last++;
  for (int seg = 0; seg <= last; ++seg) {
    Read r = read_log(d.segment(seg) + "/rlog.zst");
    ASSERT_GE(r.which.size(), 3u);
    EXPECT_EQ(r.which[0], "initData");
    EXPECT_EQ(r.count("sentinel"), 2u);
    EXPECT_EQ(r.which.back(), "sentinel");
    capnp::FlatArrayMessageReader m(kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(r.bytes.back().data()), r.bytes.back().size() / 8));
    auto end = m.getRoot<cereal::Event>().getSentinel();
    EXPECT_EQ(end.getType(), seg == last ? cereal::Sentinel::SentinelType::END_OF_ROUTE : cereal::Sentinel::SentinelType::END_OF_SEGMENT);
    EXPECT_EQ(end.getSignal(), seg == last ? SIGTERM : 0);
  }
}

// SIGKILL at 20 random moments while a checksummed stream is logged: what is
// read back is intact and in order, and nothing older than the flush window
// (plus a generous allowance for a loaded machine) is missing.
static void sigkill_rounds(const std::string &root, const std::string &io, int rounds) {
  constexpr double kFlushMs = 100, kSlackMs = 400;
  std::mt19937_64 rng(42);
  cereal::PubMaster pm({"testMessage"});
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE(io + " round " + std::to_string(round));
    std::string route = "kill" + std::to_string(round);
    Loggerd d(root, route, {{"LOGGERD_FLUSH_MS", std::to_string(int(kFlushMs))}, {"LOGGERD_IO", io}});
    ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
    std::atomic<bool> stop{false};
    std::vector<std::pair<uint64_t, uint64_t>> sent;  // (seq, publish time)
    std::thread pub([&] {
      std::mt19937_64 prng(round);
      for (uint64_t seq = 0; !stop; ++seq) {
        publish_test_message(pm, seq, 16 + prng() % 2000, prng);
        sent.push_back({seq, conduit::mono_ns()});
        usleep(500);
      }
    });
    // Killed at a random moment once a first test message is on disk, so every round has something to check.
    EXPECT_TRUE(wait_for([&] {
      loggerd::LogReader lr(d.segment(0) + "/rlog.zst");
      while (lr.next()) {
        if (lr.event().isTestMessage()) return true;
      }
      return false;
    })) << d.stderr_text();
    usleep(useconds_t(150000 + rng() % 450000));
    uint64_t kill_ns = conduit::mono_ns();
    int st = d.stop(SIGKILL);
    stop = true;
    pub.join();
    EXPECT_EQ(st, 128 + SIGKILL);

    loggerd::LogReader lr(d.segment(0) + "/rlog.zst");
    int64_t prev = -1;
    size_t got = 0;
    while (lr.next()) {
      auto ev = lr.event();
      if (!ev.isTestMessage()) continue;
      auto t = ev.getTestMessage();
      ASSERT_EQ(t.getChecksum(), checksum(t.getSeq(), t.getPayload())) << "torn or corrupt message " << t.getSeq();
      if (prev >= 0) ASSERT_EQ(int64_t(t.getSeq()), prev + 1) << "gap or reordering";
      else EXPECT_EQ(t.getSeq(), 0u) << "loggerd was ready before the first message";
      prev = int64_t(t.getSeq());
      got++;
    }
    uint64_t deadline = kill_ns - uint64_t((kFlushMs + kSlackMs) * 1e6);
    uint64_t must_have = 0;
    for (auto &[seq, t] : sent)
      if (t < deadline) must_have = seq + 1;
    EXPECT_GE(prev + 1, int64_t(must_have)) << "messages older than the flush window are missing; got " << got;
    EXPECT_GT(got, 0u);
  }
}

TEST_F(LoggerdProcess, SigkillAtRandomMomentsLosesOnlyTheFlushWindow) { sigkill_rounds(dir.path, "io_uring", 20); }

// The SQ thread submits on its own: a SIGKILL still loses only the flush window.
TEST_F(LoggerdProcess, SigkillWithSqpollLosesOnlyTheFlushWindow) { sigkill_rounds(dir.path, "io_uring_sqpoll", 10); }

// --io and --sqpoll-* choose the engine as LOGGERD_IO and LOGGERD_SQPOLL_* do (and win over them);
// bad values are refused before anything starts.
TEST_F(LoggerdProcess, IoFlagsChooseTheEngine) {
  {
    Loggerd d(dir.path, "flags", {{"LOGGERD_IO", "pwrite"}}, {"--io", "io_uring_sqpoll", "--sqpoll-idle-ms", "50"});
    ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
    EXPECT_EQ(d.stop(SIGINT), 0);
    EXPECT_NE(d.stderr_text().find("io io_uring_sqpoll"), std::string::npos) << d.stderr_text();
  }
  for (auto [args, error] : {std::pair<std::vector<std::string>, std::string>{{"--io", "aio"}, "--io 'aio': expected"},
                             {{"--sqpoll-idle-ms", "soon"}, "sqpoll-idle-ms"}}) {
    Loggerd d(dir.path, "bad_flags", {}, args);
    EXPECT_EQ(d.stop(0), 2);
    EXPECT_NE(d.stderr_text().find(error), std::string::npos) << d.stderr_text();
  }
}

// The same input through every backend gives the same events and videos.
TEST_F(LoggerdProcess, PwriteAndIoUringWriteIdenticalLogs) {
  std::map<std::string, Read> logs;
  std::map<std::string, std::string> videos;
  for (std::string io : {"io_uring", "io_uring_sqpoll", "pwrite"}) {
    Loggerd d(dir.path, "io_" + io, {{"LOGGERD_IO", io}, {"LOGGERD_FLUSH_MS", "20"}});
    ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
    {
      cereal::PubMaster pm({"roadEncodeData", "can", "testMessage"});
      std::mt19937_64 rng(7);
      for (int i = 0; i < 600; ++i) {
        publish_can(pm, i);
        publish_test_message(pm, i, 100 + i % 3000, rng);
        if (i % 30 == 0) publish_packet(pm, "roadEncodeData", 0, i / 30, i == 0, nullptr);
        if (i % 100 == 0) usleep(20000);
      }
    }  // what is still in the rings loggerd drains after the signal
    EXPECT_EQ(d.stop(SIGINT), 0);
    EXPECT_NE(d.stderr_text().find("io " + io), std::string::npos) << d.stderr_text();
    logs[io] = read_log(d.segment(0) + "/rlog.zst");
    videos[io] = slurp(d.segment(0) + "/fcamera.hevc");
  }
  // Per service, in order, byte for byte (how topics interleave depends on scheduling).
  auto streams = [](const Read &r) {
    std::map<std::string, std::vector<std::string>> out;
    for (size_t i = 0; i < r.which.size(); ++i)
      if (r.which[i] != "initData" && r.which[i] != "sentinel" && r.which[i] != "loggerdState") out[r.which[i]].push_back(r.bytes[i]);
    return out;
  };
  auto b = streams(logs["pwrite"]);
  for (std::string io : {"io_uring", "io_uring_sqpoll"}) {
    SCOPED_TRACE(io);
    auto a = streams(logs[io]);
    EXPECT_EQ(a["can"].size(), 600u);
    EXPECT_EQ(a["testMessage"].size(), 600u);
    EXPECT_EQ(a["roadEncodeIdx"].size(), 20u);
    for (auto &[name, events] : a) EXPECT_TRUE(events == b[name]) << name << ": " << events.size() << " vs " << b[name].size();
    EXPECT_EQ(a.size(), b.size());
    EXPECT_FALSE(videos[io].empty());
    EXPECT_EQ(videos[io], videos["pwrite"]);
  }
}

// Disk full: a small tmpfs (or injected ENOSPC where mounting is refused).
// loggerd stays alive, counts what it dropped, and what is on disk reads back intact.
TEST_F(LoggerdProcess, DiskFullKeepsRunningAndEarlierDataIntact) {
  std::string root = dir.path + "/small";
  fs::create_directories(root);
  std::map<std::string, std::string> env = {{"LOGGERD_MIN_FREE_PERCENT", "0"}, {"LOGGERD_SEGMENT_SECONDS", "0.6"},
                                            {"LOGGERD_ZSTD_LEVEL", "1"}};
  bool mounted = mount("tmpfs", root.c_str(), "tmpfs", 0, "size=3m") == 0;
  if (!mounted) env["LOGGERD_INJECT_ENOSPC_AFTER"] = "3000000";
  msgq::SubOptions so;
  so.ring_size = cereal::service("loggerdState").ring_size;
  auto sub = msgq::SubSocket::create("loggerdState", so);
  uint64_t dropped = 0;
  {
    Loggerd d(root, "full", env);
    ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
    cereal::PubMaster pm({"testMessage"});
    std::mt19937_64 rng(9);
    uint64_t start = conduit::mono_ns();
    for (uint64_t seq = 0; conduit::mono_ns() - start < 2'500'000'000ull; ++seq) {
      publish_test_message(pm, seq, 8000, rng);  // random payload: incompressible, ~3 MB/s
      usleep(2500);
    }
    // A loggerdState after the disk filled up reports the drop.
    EXPECT_TRUE(wait_for([&] {
      msgq::Message m;
      while (sub->receive(m, 0)) {
        capnp::FlatArrayMessageReader r(
            kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(m.data()), m.size() / 8));
        dropped = std::max<uint64_t>(dropped, r.getRoot<cereal::Event>().getLoggerdState().getDroppedBytes());
      }
      return dropped > 0;
    })) << "loggerdState never reported dropped bytes";
    EXPECT_TRUE(d.alive()) << d.stderr_text();
    EXPECT_EQ(d.stop(SIGINT), 0);
    EXPECT_NE(d.stderr_text().find("No space left on device"), std::string::npos) << d.stderr_text();
  }
  EXPECT_GT(dropped, 0u) << "loggerdState never reported dropped bytes";
  // Segment 0 filled before the disk did: complete. Every log reads back with intact messages only.
  Read r0 = read_log(root + "/full--0/rlog.zst");
  EXPECT_TRUE(r0.warnings.empty());
  EXPECT_EQ(r0.which.front(), "initData");
  EXPECT_EQ(r0.which.back(), "sentinel");
  for (auto &s : loggerd::list_segments(root)) {
    loggerd::LogReader lr(s.path);
    while (lr.next())
      if (lr.event().isTestMessage()) {
        auto t = lr.event().getTestMessage();
        ASSERT_EQ(t.getChecksum(), checksum(t.getSeq(), t.getPayload()));
      }
  }
  if (mounted) umount2(root.c_str(), MNT_DETACH);
}

// Real H.265 (road) and H.264 (qcamera) packets, 20 fps, 1 s segments: every
// segment's files decode on their own to exactly fps x length frames.
TEST_F(LoggerdProcess, VideoFilesDecodeWithExactFrameCounts) {
  constexpr int kFps = 20, kSegments = 2;
  auto key = [](int i) { return i % kFps == 0; };
  auto road = encode("libx265", 320, 240, kFps * kSegments, key);
  auto q = encode("libx264", 160, 120, kFps * kSegments, key);
  if (road.size() != size_t(kFps * kSegments) || q.size() != size_t(kFps * kSegments))
    GTEST_SKIP() << "libx265/libx264 encoders unavailable in this libavcodec";
  Loggerd d(dir.path, "video", {{"LOGGERD_SEGMENT_SECONDS", "1000"}});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  cereal::PubMaster pm({"roadEncodeData", "qRoadEncodeData"});
  auto send = [&](const char *service, const Packet &p, int w, int h) {
    cereal::MessageBuilder b;
    auto ev = b.initEvent();
    auto ed = std::string(service) == "roadEncodeData" ? ev.initRoadEncodeData() : ev.initQRoadEncodeData();
    auto idx = ed.initIdx();
    idx.setFrameId(uint32_t(p.index));
    idx.setEncodeId(uint32_t(p.index));
    idx.setSegmentNum(int32_t(p.index / kFps));
    idx.setSegmentId(uint32_t(p.index % kFps));
    idx.setSegmentIdEncode(uint32_t(p.index % kFps));
    idx.setTimestampSof(uint64_t(p.index) * 50'000'000ull);
    idx.setFlags(p.keyframe ? cereal::EncodeIndex::FLAG_KEYFRAME : 0);
    idx.setWidth(w);
    idx.setHeight(h);
    idx.setLen(uint32_t(p.data.size()));
    ed.setData(kj::arrayPtr(reinterpret_cast<const uint8_t *>(p.data.data()), p.data.size()));
    pm.send(service, b);
  };
  for (int i = 0; i < kFps * kSegments; ++i) {
    ASSERT_EQ(road[i].keyframe, key(i));
    send("roadEncodeData", road[i], 320, 240);
    send("qRoadEncodeData", q[i], 160, 120);
    if (i > 0 && i % kFps == 0) {  // both encoders moved on: loggerd rotates
      ASSERT_TRUE(wait_for([&] { return exists(d.segment(i / kFps) + "/rlog.zst"); })) << d.stderr_text();
    }
  }
  // The last segment has started: what loggerd drains after the signal is kept.
  EXPECT_EQ(d.stop(SIGINT), 0);
  for (int seg = 0; seg < kSegments; ++seg) {
    SCOPED_TRACE("segment " + std::to_string(seg));
    EXPECT_EQ(count_frames(d.segment(seg) + "/fcamera.hevc"), kFps);
    EXPECT_EQ(count_frames(d.segment(seg) + "/qcamera.ts"), kFps);
    Read r = read_log(d.segment(seg) + "/rlog.zst");
    EXPECT_EQ(r.count("roadEncodeIdx"), size_t(kFps));
    EXPECT_EQ(r.count("qRoadEncodeIdx"), size_t(kFps));
  }
}
