#include <fstream>
#include <sstream>

#include <zstd.h>

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
  EXPECT_EQ(log.truncated(), 0u);
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

TEST(LogFile, TruncatedFileKeepsCompleteEvents) {
  std::string data = slurp(seg0_log());
  size_t full = LogFile::parse(data, "x").events().size();
  auto log = LogFile::parse(std::string_view(data).substr(0, data.size() - 100), "x");
  EXPECT_GT(log.truncated(), 0u);
  EXPECT_LT(log.events().size(), full);
  EXPECT_GT(log.events().size(), full / 2);
}

TEST(LogFile, CorruptDataIsAClearError) {
  std::string data = slurp(seg0_log());
  for (size_t i = data.size() / 3; i < data.size() / 3 + 64; ++i) data[i] ^= 0x5a;
  try {
    LogFile::parse(data, "bad.zst");
    FAIL() << "corrupt data parsed";
  } catch (const LogError &e) {
    std::string what = e.what();
    EXPECT_NE(what.find("bad.zst"), std::string::npos) << what;
  }
  EXPECT_THROW(LogFile::parse("", "empty.zst"), LogError);
  EXPECT_THROW(LogFile::parse("definitely not zstd", "text.zst"), LogError);
  EXPECT_THROW(LogFile::read("/nonexistent/rlog.zst"), LogError);
}

TEST(LogFile, MalformedEventIsAClearError) {
  // A valid zstd frame whose content claims 100000 segments.
  uint32_t words[4] = {99999, 1, 0, 0};
  std::string raw(reinterpret_cast<char *>(words), sizeof(words));
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1));
  try {
    LogFile::parse(out, "evil.zst");
    FAIL() << "malformed event parsed";
  } catch (const LogError &e) {
    EXPECT_NE(std::string(e.what()).find("segments"), std::string::npos) << e.what();
  }
}
