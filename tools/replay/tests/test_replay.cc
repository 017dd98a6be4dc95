// End-to-end: a Replay in this process, consumers on msgq and VisionIPC.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <capnp/serialize.h>

#include "common/clock.h"
#include "common/testing/prefix.h"
#include "common/testing/wait.h"
#include "msgq/msgq.h"
#include "tools/replay/log_file.h"
#include "tools/replay/replay.h"
#include "tools/replay/segment_loader.h"
#include "tools/replay/tests/fixture_env.h"
#include "visionipc/visionipc_client.h"

using namespace replay;
using namespace replay_test;
using testutil::wait_for;

namespace {

const std::vector<std::string> kTopics = {"initData", "sentinel", "roadCameraState", "roadEncodeIdx",
                                          "sensorEvents", "can", "deviceState"};

struct Received {
  std::string bytes;
  uint64_t rcv_ns;
};

// Subscribes before the replay starts and records everything until stopped.
class Collector {
 public:
  explicit Collector(const std::vector<std::string> &topics) : poller_(msgq::Poller::create()) {
    for (const auto &t : topics) {
      socks_.push_back(msgq::SubSocket::create(t, {false, 4 << 20}));
      poller_->add(*socks_.back());
    }
    thread_ = std::thread([this] {
      msgq::Message m;
      while (!stop_) {
        for (auto *s : poller_->poll(50)) {
          while (s->receive(m, 0)) {
            std::lock_guard lk(mutex_);
            got_[s->topic()].push_back({std::string(m.data(), m.size()), conduit::mono_ns()});
          }
        }
      }
    });
  }
  ~Collector() { stop(); }
  // Stops, then takes what is still in the rings: after a replay finished,
  // the topics hold everything it published.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    msgq::Message m;
    for (auto &s : socks_) {
      while (s->receive(m, 0)) got_[s->topic()].push_back({std::string(m.data(), m.size()), conduit::mono_ns()});
    }
  }
  std::vector<Received> topic(const std::string &t) {
    std::lock_guard lk(mutex_);
    return got_[t];
  }
  uint64_t lost() const {
    uint64_t n = 0;
    for (const auto &s : socks_) n += s->lost();
    return n;
  }

 private:
  std::vector<std::unique_ptr<msgq::SubSocket>> socks_;
  std::unique_ptr<msgq::Poller> poller_;
  std::map<std::string, std::vector<Received>> got_;
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The logged events of the fixture (both segments), per service, in order.
std::map<std::string, std::vector<LogEvent>> logged(std::vector<LogFile> &keep, const std::string &root) {
  std::map<std::string, std::vector<LogEvent>> out;
  for (int s = 0; s < 2; ++s) {
    keep.push_back(LogFile::read(root + "/fixture--" + std::to_string(s) + "/rlog.zst"));
  }
  for (auto &log : keep) {
    for (const auto &e : log.events()) out[std::string(e.service)].push_back(e);
  }
  return out;
}

ReplayOptions options(const std::string &root, std::vector<std::string> *warnings = nullptr) {
  ReplayOptions o;
  o.route = "fixture";
  o.data_dir = root;
  auto mutex = std::make_shared<std::mutex>();
  o.on_warning = [warnings, mutex](const std::string &m) {
    std::lock_guard lk(*mutex);
    if (warnings) warnings->push_back(m);
  };
  return o;
}

// Frame id of the first roadEncodeIdx at or after route time t.
uint32_t frame_logged_at(double t) {
  const auto o = fixture_options();
  for (uint32_t f = 0;; ++f) {
    if (fixture_frame_time(o, f) >= o.start_mono + uint64_t(t * 1e9)) return f;
  }
}

}  // namespace

TEST(Replay, RepublishesEveryLoggedMessageUnchangedAndInOrder) {
  testutil::ScopedPrefix prefix("replay");
  fixture();
  std::vector<LogFile> keep;
  auto expected = logged(keep, fixture_options().dir);
  Collector c(kTopics);
  auto o = options(fixture_options().dir);
  o.speed = 0;
  o.vipc = false;
  Replay r(o);
  r.start();
  r.wait_finished();
  size_t total = 0;
  for (const auto &[topic, events] : expected) total += events.size();
  wait_for([&] { size_t n = 0; for (auto &t : kTopics) n += c.topic(t).size(); return n >= total; }, 10);
  c.stop();
  EXPECT_EQ(c.lost(), 0u);
  EXPECT_EQ(r.stats().messages, total);
  for (const auto &topic : kTopics) {
    auto got = c.topic(topic);
    const auto &want = expected[topic];
    ASSERT_EQ(got.size(), want.size()) << topic;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].bytes, std::string(want[i].data(), want[i].size())) << topic << " #" << i;
    }
  }
}

TEST(Replay, RealTimePacingFollowsTheLoggedDeltas) {
  testutil::ScopedPrefix prefix("replay");
  fixture();
  std::vector<LogFile> keep;
  auto expected = logged(keep, fixture_options().dir);
  Collector c({"sensorEvents"});
  auto o = options(fixture_options().dir);
  o.vipc = false;
  o.allow = {"sensorEvents"};
  Replay r(o);
  r.start();
  r.wait_finished();
  wait_for([&] { return c.topic("sensorEvents").size() >= expected["sensorEvents"].size(); }, 5);
  c.stop();
  auto got = c.topic("sensorEvents");
  const auto &want = expected["sensorEvents"];
  ASSERT_EQ(got.size(), want.size());
  // Over the run: the received span matches the logged span within 5%.
  double log_span = (want.back().mono_time - want.front().mono_time) * 1e-9;
  double rcv_span = (got.back().rcv_ns - got.front().rcv_ns) * 1e-9;
  EXPECT_NEAR(rcv_span / log_span, 1.0, 0.05) << "logged " << log_span << " s, replayed " << rcv_span << " s";
  // Message by message: offsets from the logged schedule stay together (median
  // absolute deviation; robust to a late first message and to single hiccups on
  // a shared machine; the span check above carries the 5%).
  std::vector<double> err;
  for (size_t i = 0; i < got.size(); ++i) {
    double want_off = (want[i].mono_time - want[0].mono_time) * 1e-9;
    double got_off = (got[i].rcv_ns - got[0].rcv_ns) * 1e-9;
    err.push_back(got_off - want_off);
  }
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  double center = median(err);
  for (double &e : err) e = std::abs(e - center);
  EXPECT_LT(median(err), 0.02) << "median deviation from the logged schedule";
  EXPECT_NEAR(r.stats().route_seconds, 4.0, 0.05);
}

TEST(Replay, FrameServedAtStartIsTheFrameLoggedThenWithGoodPixels) {
  testutil::ScopedPrefix prefix("replay");
  auto o = options(fixture_options().dir);
  fixture();
  o.start = 2.5;  // inside segment 1, between keyframes 40 and 60
  Replay r(o);
  ASSERT_EQ(r.streams(), std::vector<VisionStreamType>{VISION_STREAM_ROAD});
  VisionIpcClient client("camerad", VISION_STREAM_ROAD, false);
  ASSERT_TRUE(client.connect(false)) << client.last_error();
  r.start();
  const auto fo = fixture_options();
  uint32_t want = frame_logged_at(2.5);
  EXPECT_EQ(want, 50u);
  uint32_t expect = want;
  for (int k = 0; k < 5; ++k) {
    uint64_t dropped_before = client.dropped();
    VisionIpcBufExtra extra;
    VisionBuf *buf = client.recv(&extra, 3000);
    ASSERT_NE(buf, nullptr) << "frame " << k;
    // Consecutive, unless this client fell behind and VisionIPC says how many it missed.
    if (k > 0) expect += 1 + uint32_t(client.dropped() - dropped_before);
    uint32_t f = extra.frame_id;
    EXPECT_EQ(f, expect);
    EXPECT_EQ(extra.timestamp_sof, fo.start_mono + f * 50'000'000ull);
    auto stamp = camerad::read_stamp(buf->y, int(buf->stride()), int(buf->width()), int(buf->height()));
    ASSERT_TRUE(stamp.has_value());
    EXPECT_EQ(stamp->frame_id, f) << "pixels are not those of the announced frame";
    EXPECT_GE(psnr_vs_synthetic(f, buf->frame()), 35.0);
  }
}

TEST(Replay, SeekLandsOnTheFrameLoggedAtTheTarget) {
  testutil::ScopedPrefix prefix("replay");
  fixture();
  auto o = options(fixture_options().dir);
  Replay r(o);
  VisionIpcClient client("camerad", VISION_STREAM_ROAD, false);
  ASSERT_TRUE(client.connect(false));
  r.pause(true);
  r.start();
  for (double t : {3.2, 0.5, 1.96}) {
    // Paused and quiet: a frame decoded before the pause is not the seek's.
    r.pause(true);
    while (client.recv(nullptr, 300)) {
    }
    r.seek_to(t);
    r.pause(false);
    VisionIpcBufExtra extra;
    VisionBuf *buf = client.recv(&extra, 3000);
    ASSERT_NE(buf, nullptr);
    EXPECT_EQ(extra.frame_id, frame_logged_at(t)) << "seek to " << t;
    auto stamp = camerad::read_stamp(buf->y, int(buf->stride()), int(buf->width()), int(buf->height()));
    ASSERT_TRUE(stamp.has_value());
    EXPECT_EQ(stamp->frame_id, frame_logged_at(t));
  }
}

TEST(Replay, AllowAndBlockAreHonoured) {
  testutil::ScopedPrefix prefix("replay");
  fixture();
  {
    Collector c({"can", "sensorEvents", "roadCameraState"});
    auto o = options(fixture_options().dir);
    o.speed = 0;
    o.vipc = false;
    o.allow = {"can"};
    Replay r(o);
    r.start();
    r.wait_finished();
    c.stop();
    EXPECT_EQ(c.topic("can").size(), 200u);
    EXPECT_EQ(c.topic("sensorEvents").size(), 0u);
    EXPECT_EQ(c.topic("roadCameraState").size(), 0u);
  }
  {
    Collector c({"can", "sensorEvents", "roadCameraState"});
    auto o = options(fixture_options().dir);
    o.speed = 0;
    o.vipc = false;
    o.block = {"sensorEvents", "roadCameraState"};
    Replay r(o);
    r.start();
    r.wait_finished();
    c.stop();
    EXPECT_EQ(c.topic("can").size(), 200u);
    EXPECT_EQ(c.topic("sensorEvents").size(), 0u);
    EXPECT_EQ(c.topic("roadCameraState").size(), 0u);
  }
}

TEST(Replay, BadOptionsAreClearErrors) {
  testutil::ScopedPrefix prefix("replay");
  fixture();
  auto o = options(fixture_options().dir);
  o.vipc = false;
  o.allow = {"nosuchservice"};
  try {
    Replay r(o);
    FAIL();
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("nosuchservice"), std::string::npos);
  }
  o.allow.clear();
  o.speed = 50;
  EXPECT_THROW(Replay r(o), std::invalid_argument);
  o.speed = 1;
  o.route = "missing";
  EXPECT_THROW(Replay r(o), RouteError);
}

// Sensor value 0 of the first and last sensorEvents received.
std::pair<float, float> sensor_range(const std::vector<Received> &got) {
  auto value = [](const Received &r) {
    capnp::FlatArrayMessageReader m(
        kj::arrayPtr(reinterpret_cast<const capnp::word *>(r.bytes.data()), r.bytes.size() / 8));
    return m.getRoot<cereal::Event>().getSensorEvents()[0].getValues()[0];
  };
  return {value(got.front()), value(got.back())};
}

TEST(Replay, UnreadableSegmentIsSkippedWithAWarning) {
  testutil::ScopedPrefix prefix("replay");
  std::string root = fixture_copy("unreadable");
  {
    std::ofstream f(root + "/fixture--0/rlog.zst", std::ios::binary | std::ios::trunc);
    f << std::string(5000, 'x');
  }
  std::vector<std::string> warnings;
  Collector c({"sensorEvents"});
  auto o = options(root, &warnings);
  o.speed = 0;
  Replay r(o);
  r.start();
  r.wait_finished();
  wait_for([&] { return c.topic("sensorEvents").size() >= 200; }, 5);
  c.stop();
  auto got = c.topic("sensorEvents");
  ASSERT_EQ(got.size(), 200u);  // segment 1 only
  EXPECT_EQ(sensor_range(got), std::make_pair(200.0f, 399.0f));
  EXPECT_EQ(r.stats().segments_skipped, 1u);
  EXPECT_EQ(r.stats().frames, 40u);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("segment 0 is damaged"), std::string::npos) << warnings[0];
  fs::remove_all(root);
}

TEST(Replay, CorruptionInsideASegmentSkipsTheRestOfItWithAWarning) {
  testutil::ScopedPrefix prefix("replay");
  std::string root = fixture_copy("corrupt");
  std::string log = root + "/fixture--0/rlog.zst";
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(fs::file_size(log) / 2);
    f.write(std::string(64, '\x5a').data(), 64);
  }
  std::vector<std::string> warnings;
  Collector c({"sensorEvents"});
  auto o = options(root, &warnings);
  o.speed = 0;
  Replay r(o);
  r.start();
  r.wait_finished();
  wait_for([&] { return !c.topic("sensorEvents").empty() && sensor_range(c.topic("sensorEvents")).second == 399; }, 5);
  c.stop();
  auto got = c.topic("sensorEvents");
  // The intact start of segment 0, nothing after the damage, then all of segment 1.
  ASSERT_GT(got.size(), 200u);
  ASSERT_LT(got.size(), 400u);
  EXPECT_EQ(sensor_range(got), std::make_pair(0.0f, 399.0f));
  bool warned = std::any_of(warnings.begin(), warnings.end(), [&](const std::string &w) {
    return w.find("segment 0") != std::string::npos && w.find("skipping the rest") != std::string::npos;
  });
  EXPECT_TRUE(warned);
  fs::remove_all(root);
}

TEST(Replay, MissingVideoOnlyLosesThoseFrames) {
  testutil::ScopedPrefix prefix("replay");
  std::string root = fixture_copy("novideo");
  fs::remove(root + "/fixture--1/fcamera.hevc");
  std::vector<std::string> warnings;
  auto o = options(root, &warnings);
  o.speed = 0;
  Replay r(o);
  r.start();
  r.wait_finished();
  EXPECT_EQ(r.stats().frames, 40u);
  EXPECT_EQ(r.stats().messages, 2 * 387u);
  bool warned = std::any_of(warnings.begin(), warnings.end(),
                            [](const std::string &w) { return w.find("fcamera.hevc is missing") != std::string::npos; });
  EXPECT_TRUE(warned);
  fs::remove_all(root);
}

TEST(Replay, LoopStartsOver) {
  testutil::ScopedPrefix prefix("replay");
  fixture();
  auto o = options(fixture_options().dir);
  o.speed = 0;
  o.vipc = false;
  o.loop = true;
  Replay r(o);
  r.start();
  wait_for([&] { return r.stats().messages > 3 * 774; }, 10);
  r.stop();
  EXPECT_GT(r.stats().messages, 3 * 774u);
}

TEST(SegmentLoader, HoldsAtMostTheWindow) {
  fixture();
  auto route = Route::open("fixture", fixture_options().dir);
  SegmentLoader loader(route, {cereal::VideoId::Road}, 0);
  std::string err;
  auto s0 = loader.get(0, &err);
  ASSERT_NE(s0, nullptr) << err;
  EXPECT_EQ(s0->number, 0);
  EXPECT_NE(s0->video[size_t(cereal::VideoId::Road)], nullptr);
  loader.set_current(1);
  auto s1 = loader.get(1, &err);
  ASSERT_NE(s1, nullptr) << err;
  EXPECT_EQ(loader.loaded_count(), 2u);  // 1, and 0 just behind it
  loader.set_current(2);                  // past the end: only what is just behind stays
  EXPECT_EQ(loader.loaded_count(), 1u);
  loader.set_current(3);
  EXPECT_EQ(loader.loaded_count(), 0u);
  EXPECT_EQ(s0->events.size(), 387u);  // still usable: the caller holds it
}
