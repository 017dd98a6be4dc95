// LogFileReader: intact prefix + warning on truncated, bit-flipped and empty logs.
#include "loggerd/log_file_reader.h"

#include <sys/resource.h>
#include <zstd.h>

#include <gtest/gtest.h>
#include <zstd.h>

#include "loggerd/tests/test_util.h"
#include "loggerd/writer.h"
#include "loggerd/zstd_log_file.h"

using namespace loggerd;
using namespace loggerd_test;

namespace {

struct Log {
  std::string path;
  std::vector<std::string> events;
};

// A zstd log of `n` events with a frame every ~40 events.
Log write_log(const std::string &dir, int n, uint64_t seed) {
  Log log{dir + "/rlog.zst", {}};
  std::mt19937_64 rng(seed);
  Writer w;
  ZstdLogOptions zo;
  zo.flush_interval_ns = 40;
  ZstdLogFile f(w, log.path, zo);
  for (int i = 0; i < n; ++i) {
    log.events.push_back(fake_event(rng, 1 + rng() % 40));
    f.write(log.events.back().data(), log.events.back().size(), uint64_t(i));
    f.maybe_flush(uint64_t(i));
  }
  return log;
}

void write_file(const std::string &path, const std::string &data) {
  FILE *f = fopen(path.c_str(), "wb");
  fwrite(data.data(), 1, data.size(), f);
  fclose(f);
}

// Reads `path`; checks every event returned equals the original at its index. Returns the count.
size_t read_prefix(const std::string &path, const std::vector<std::string> &events, std::string *warning) {
  LogFileReader r(path);
  std::string_view ev;
  size_t n = 0;
  while (r.next(ev)) {
    EXPECT_LT(n, events.size());
    if (n >= events.size()) break;
    EXPECT_EQ(ev, events[n]) << "event " << n << " of " << path << " is not the original";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ev.data()) % 8, 0u);
    n++;
  }
  *warning = r.warning();
  return n;
}

}  // namespace

TEST(LogFileReader, IntactLogHasNoWarning) {
  TempDir dir;
  Log log = write_log(dir.path, 2000, 1);
  std::string warning;
  EXPECT_EQ(read_prefix(log.path, log.events, &warning), log.events.size());
  EXPECT_EQ(warning, "");
}

TEST(LogFileReader, TruncatedLogYieldsIntactPrefixAndWarning) {
  TempDir dir;
  Log log = write_log(dir.path, 2000, 2);
  std::string data = slurp(log.path), warning;
  std::mt19937 rng(5);
  size_t last = 0;
  for (int k = 0; k < 40; ++k) {
    size_t cut = 1 + rng() % (data.size() - 1);
    std::string path = dir.path + "/cut.zst";
    write_file(path, data.substr(0, cut));
    size_t n = read_prefix(path, log.events, &warning);
    EXPECT_LT(n, log.events.size());
    EXPECT_NE(warning.find("truncated"), std::string::npos) << "cut at " << cut << ": " << warning;
    last = std::max(last, n);
  }
  EXPECT_GT(last, 0u);
}

TEST(LogFileReader, CutAtFrameBoundaryLosesOnlyLaterFrames) {
  TempDir dir;
  Log log = write_log(dir.path, 400, 3);
  std::string data = slurp(log.path), warning;
  // The first frame alone: a clean file with fewer events.
  size_t first = ZSTD_findFrameCompressedSize(data.data(), data.size());
  ASSERT_FALSE(ZSTD_isError(first));
  write_file(dir.path + "/one.zst", data.substr(0, first));
  size_t n = read_prefix(dir.path + "/one.zst", log.events, &warning);
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, log.events.size());
  EXPECT_EQ(warning, "");
}

TEST(LogFileReader, BitFlipYieldsIntactPrefixNeverGarbage) {
  TempDir dir;
  Log log = write_log(dir.path, 2000, 4);
  std::string data = slurp(log.path), warning;
  std::mt19937 rng(6);
  int warned = 0;
  for (int k = 0; k < 60; ++k) {
    std::string bad = data;
    size_t at = rng() % bad.size();
    bad[at] ^= char(1 << (rng() % 8));
    std::string path = dir.path + "/flip.zst";
    write_file(path, bad);
    size_t n = read_prefix(path, log.events, &warning);  // asserts every event is an original
    if (n < log.events.size()) {
      EXPECT_NE(warning, "") << "flip at " << at << " lost events without a warning";
    }
    warned += !warning.empty();
  }
  EXPECT_GT(warned, 50);  // almost every flip is caught by the frame checksum
}

TEST(LogFileReader, EmptyFileWarns) {
  TempDir dir;
  write_file(dir.path + "/empty.zst", "");
  std::string warning;
  EXPECT_EQ(read_prefix(dir.path + "/empty.zst", {}, &warning), 0u);
  EXPECT_NE(warning.find("empty"), std::string::npos) << warning;
}

// A frame that decodes to nothing (as zstd writes for an empty input) before an
// intact log: no event from it, all of the log after it. The fuzzer found it
// passing a null buffer to memcpy (the UBSan gate runs this).
TEST(LogFileReader, EmptyFrameBeforeLog) {
  TempDir dir;
  Log log = write_log(dir.path, 50, 3);
  std::string empty(ZSTD_compressBound(0), '\0');
  empty.resize(ZSTD_compress(empty.data(), empty.size(), nullptr, 0, 1));
  write_file(dir.path + "/empty_first.zst", empty + slurp(log.path));
  std::string warning;
  EXPECT_EQ(read_prefix(dir.path + "/empty_first.zst", log.events, &warning), log.events.size());
  EXPECT_EQ(warning, "");
}

TEST(LogFileReader, StrictModeThrows) {
  TempDir dir;
  Log log = write_log(dir.path, 500, 7);
  std::string data = slurp(log.path);
  write_file(dir.path + "/cut.zst", data.substr(0, data.size() - 3));
  LogFileReader r(dir.path + "/cut.zst", true);
  std::string_view ev;
  EXPECT_THROW({ while (r.next(ev)) {} }, std::runtime_error);
}

TEST(LogFileReader, UncompressedLogAndTruncatedEvent) {
  TempDir dir;
  std::mt19937_64 rng(8);
  std::vector<std::string> events;
  std::string raw;
  for (int i = 0; i < 100; ++i) {
    events.push_back(fake_event(rng, 1 + rng() % 20));
    raw += events.back();
  }
  write_file(dir.path + "/rlog", raw);
  std::string warning;
  EXPECT_EQ(read_prefix(dir.path + "/rlog", events, &warning), 100u);
  EXPECT_EQ(warning, "");
  write_file(dir.path + "/rlog", raw.substr(0, raw.size() - 5));
  EXPECT_EQ(read_prefix(dir.path + "/rlog", events, &warning), 99u);
  EXPECT_NE(warning.find("truncated event"), std::string::npos) << warning;
}

TEST(LogFileReader, ImpossibleHeaderIsDamageNotACrash) {
  TempDir dir;
  std::string junk(64, '\xff');
  write_file(dir.path + "/rlog", junk);
  std::string warning;
  EXPECT_EQ(read_prefix(dir.path + "/rlog", {}, &warning), 0u);
  EXPECT_NE(warning.find("impossible"), std::string::npos) << warning;
}

TEST(LogFileReader, MissingFileThrowsWithPath) {
  try {
    LogFileReader r("/nonexistent/rlog.zst");
    FAIL();
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/rlog.zst"), std::string::npos);
  }
}

namespace {

// `frames` zstd frames, each of `frame_bytes` of well-framed zero events of 4 KiB,
// compressed a chunk at a time: the test never holds what they decode to.
std::string zero_event_frames(size_t frames, size_t frame_bytes) {
  std::string event(4096, '\0');
  const uint32_t table[2] = {0, 4096 / 8 - 1};
  memcpy(event.data(), table, sizeof(table));
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  std::string frame, buf(1 << 16, '\0');
  for (size_t done = 0; done < frame_bytes; done += event.size()) {
    const bool last = done + event.size() >= frame_bytes;
    ZSTD_inBuffer in{event.data(), event.size(), 0};
    size_t left;
    do {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      left = ZSTD_compressStream2(cctx, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      frame.append(buf.data(), out.pos);
    } while (in.pos < in.size || (last && left != 0));
  }
  ZSTD_freeCCtx(cctx);
  std::string out;
  for (size_t i = 0; i < frames; ++i) out += frame;
  return out;
}

// ASan keeps freed blocks resident in its quarantine (256 MiB by default)
// before it reuses them: the frames this reader freed count there too.
#ifdef __SANITIZE_ADDRESS__
constexpr long kQuarantineMiB = 256;
#else
constexpr long kQuarantineMiB = 0;
#endif

long max_rss_mib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

}  // namespace

// A small file that decodes to gigabytes is stopped at the caps, with a
// warning that says so, and never takes that memory.
TEST(LogFileReader, DecompressionBombsStopAtTheCaps) {
  TempDir dir;
  const std::string one = dir.path + "/one.zst", many = dir.path + "/many.zst";
  write_file(one, zero_event_frames(1, size_t(256) << 20));  // one frame of 256 MiB
  write_file(many, zero_event_frames(20, size_t(60) << 20));  // 20 frames of 60 MiB
  ASSERT_LT(std::filesystem::file_size(one), 64u << 10);

  LogFileReader r(one);
  std::string_view ev;
  EXPECT_FALSE(r.next(ev));
  EXPECT_NE(r.warning().find("decodes to more than 64 MiB"), std::string::npos) << r.warning();
  EXPECT_NE(r.warning().find("decompression bomb"), std::string::npos) << r.warning();

  LogFileReader m(many);
  size_t events = 0;
  while (m.next(ev)) events++;
  EXPECT_EQ(events * 4096, 17 * (size_t(60) << 20));  // the 17 whole frames below 1 GiB
  EXPECT_NE(m.warning().find("the log decodes to more than 1024 MiB"), std::string::npos) << m.warning();
  EXPECT_LT(max_rss_mib(), 512 + kQuarantineMiB);
}
