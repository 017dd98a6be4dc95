#include <fstream>
#include <sstream>

#include <capnp/serialize.h>

#include "loggerd/writer.h"
#include "loggerd/zstd_log_file.h"
#include "tools/replay/log_file.h"
#include "tools/replay/tests/fixture_env.h"

using namespace replay;
using namespace replay_test;

namespace {

std::string slurp(const std::string &p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string seg0_log() { return fixture().segment_dirs[0] + "/rlog.zst"; }

}  // namespace

TEST(LogFile, ReadsEveryEventOfTheFixture) {
  auto log = LogFile::read(seg0_log());
  const auto &ev = log.events();
  // Segment 0 (2 s): initData, sentinel, 40 x (roadCameraState, roadEncodeIdx),
  // 200 sensorEvents, 100 can, 4 deviceState, end sentinel.
  ASSERT_EQ(ev.size(), 2 + 80 + 200 + 100 + 4 + 1u);
  EXPECT_EQ(ev.front().which, cereal::Event::INIT_DATA);
  EXPECT_EQ(ev[1].service, "sentinel");
  EXPECT_EQ(ev.back().service, "sentinel");
  EXPECT_TRUE(log.damage().empty());
  size_t sensors = 0;
  for (const auto &e : ev) {
    if (e.which != cereal::Event::SENSOR_EVENTS) continue;
    capnp::FlatArrayMessageReader r(e.bytes());
    auto v = r.getRoot<cereal::Event>().getSensorEvents()[0].getValues();
    EXPECT_EQ(v[0], float(sensors));  // value j of message j
    ++sensors;
  }
  EXPECT_EQ(sensors, 200u);
  EXPECT_EQ(LogFile::first_mono_time(seg0_log()), fixture().start_mono);
}

std::string write_temp(const std::string &name, const std::string &data) {
  std::string p = fixture_options().dir + "_" + name;
  std::ofstream(p, std::ios::binary) << data;
  return p;
}

TEST(LogFile, TruncatedFileKeepsTheIntactEvents) {
  std::string data = slurp(seg0_log());
  size_t full = LogFile::read(seg0_log()).events().size();
  std::string p = write_temp("trunc.zst", data.substr(0, data.size() - 100));
  auto log = LogFile::read(p);
  EXPECT_FALSE(log.damage().empty());
  EXPECT_LT(log.events().size(), full);
  EXPECT_GT(log.events().size(), 0u);
  fs::remove(p);
}

TEST(LogFile, CorruptionEndsTheFileWithASaying) {
  std::string data = slurp(seg0_log());
  size_t full = LogFile::read(seg0_log()).events().size();
  for (size_t i = data.size() * 2 / 3; i < data.size() * 2 / 3 + 64; ++i) data[i] ^= 0x5a;
  std::string p = write_temp("corrupt.zst", data);
  auto log = LogFile::read(p);
  EXPECT_NE(log.damage().find(p), std::string::npos) << log.damage();
  EXPECT_LT(log.events().size(), full);
  fs::remove(p);
}

TEST(LogFile, UnreadableFilesAreClearErrors) {
  std::string empty = write_temp("empty.zst", "");
  std::string text = write_temp("text.zst", std::string(4096, 'x'));
  EXPECT_THROW(LogFile::read(empty), LogError);
  try {
    LogFile::read("/nonexistent/rlog.zst");
    FAIL();
  } catch (const LogError &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/rlog.zst"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LogFile::read(text), LogError);
  EXPECT_THROW(LogFile::first_mono_time(empty), LogError);
  fs::remove(empty);
  fs::remove(text);
}

// Every pointer of the root Event aimed at a segment the message does not
// have: its head (member, time) still reads, its member does not.
void poison(std::string &ev) {
  auto *w = reinterpret_cast<uint64_t *>(ev.data());
  const uint64_t root = w[1], start = 2 + (uint32_t(root) >> 2);
  const uint64_t data_words = uint16_t(root >> 32), pointer_words = uint16_t(root >> 48);
  for (uint64_t i = 0; i < pointer_words; ++i) {
    if (w[start + data_words + i] != 0) w[start + data_words + i] = uint64_t(5) << 32 | 2;
  }
}

TEST(LogFile, AnUnreadableEventIsSkippedAlone) {
  auto full = LogFile::read(seg0_log());
  std::vector<std::string> events;
  for (const auto &e : full.events()) events.emplace_back(e.data(), e.size());
  poison(events[5]);
  poison(events[200]);
  std::string p = fixture_options().dir + "_poisoned.zst";
  {
    loggerd::Writer w;
    loggerd::ZstdLogFile f(w, p);
    for (const auto &e : events) f.write(e.data(), e.size(), 0);
    f.close();
    w.drain();
  }
  auto log = LogFile::read(p);
  ASSERT_EQ(log.events().size(), full.events().size() - 2);
  EXPECT_EQ(log.bad_events(), 2u);
  EXPECT_NE(log.damage().find("skipped 2 event(s)"), std::string::npos) << log.damage();
  EXPECT_NE(log.damage().find("event #5 "), std::string::npos) << log.damage();
  EXPECT_EQ(log.events()[5].mono_time, full.events()[6].mono_time);
  EXPECT_EQ(log.events().back().mono_time, full.events().back().mono_time);
  fs::remove(p);
}
