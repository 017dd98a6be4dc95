// Writer: whole units only, locks, linked fsync, ENOSPC (injected and real), both backends.
#include "loggerd/writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "loggerd/tests/test_util.h"
#include "loggerd/zstd_log_file.h"
#include "loggerd/log_file_reader.h"

using namespace loggerd;
using namespace loggerd_test;

namespace {

class WriterTest : public ::testing::TestWithParam<std::string> {
 protected:
  WriterOptions opts(size_t count = 16, size_t size = 16384) {
    WriterOptions o;
    o.io_mode = GetParam();
    o.buffer_count = count;
    o.buffer_size = size;
    o.inject_enospc_after = -1;
    return o;
  }
  TempDir dir;
};

// A unit: [u32 length][u32 seq][payload][u32 checksum], so a file can be checked unit by unit.
std::string make_unit(uint32_t seq, size_t payload, std::mt19937 &rng) {
  std::string u(12 + payload, '\0');
  uint32_t len = uint32_t(u.size()), sum = seq * 2654435761u;
  memcpy(u.data(), &len, 4);
  memcpy(u.data() + 4, &seq, 4);
  for (size_t i = 0; i < payload; ++i) {
    u[8 + i] = char(rng());
    sum = sum * 31 + uint8_t(u[8 + i]);
  }
  memcpy(u.data() + 8 + payload, &sum, 4);
  return u;
}

// Parses a file of units; returns their seqs, fails the test on any damaged unit.
std::vector<uint32_t> parse_units(const std::string &data) {
  std::vector<uint32_t> seqs;
  size_t pos = 0;
  while (pos < data.size()) {
    uint32_t len, seq, sum;
    EXPECT_GE(data.size() - pos, 12u) << "half unit at " << pos;
    if (data.size() - pos < 12) break;
    memcpy(&len, data.data() + pos, 4);
    memcpy(&seq, data.data() + pos + 4, 4);
    EXPECT_LE(pos + len, data.size()) << "unit at " << pos << " runs past the end";
    if (pos + len > data.size() || len < 12) break;
    uint32_t want = seq * 2654435761u;
    for (size_t i = 8; i < len - 4; ++i) want = want * 31 + uint8_t(data[pos + i]);
    memcpy(&sum, data.data() + pos + len - 4, 4);
    EXPECT_EQ(sum, want) << "unit " << seq << " corrupt";
    seqs.push_back(seq);
    pos += len;
  }
  return seqs;
}

}  // namespace

TEST_P(WriterTest, WritesWholeUnitsAndRemovesLockAfterClose) {
  std::string path = dir.path + "/a.bin", expect;
  std::mt19937 rng(1);
  {
    Writer w(opts());
    EXPECT_STREQ(w.backend_name(), GetParam().c_str());
    AppendFile *f = w.open(path);
    EXPECT_TRUE(exists(path + ".lock"));
    for (uint32_t i = 0; i < 200; ++i) {
      std::string u = make_unit(i, rng() % 40000, rng);
      f->append(u.data(), u.size());
      f->end_unit();
      expect += u;
      if (i % 7 == 0) w.submit();
    }
    std::string tail = make_unit(999, 100, rng);
    f->append(tail.data(), tail.size());  // never ended: not data
    bool closed = false;
    w.close(f, [&] { closed = true; });
    w.drain();
    EXPECT_TRUE(closed);
    EXPECT_FALSE(exists(path + ".lock"));
    EXPECT_EQ(w.stats().bytes_written, expect.size());
    EXPECT_EQ(w.stats().bytes_dropped, tail.size());
    EXPECT_EQ(w.stats().write_errors, 0u);
    EXPECT_EQ(w.open_files(), 0u);
    EXPECT_EQ(w.free_buffers(), 16u);
  }
  EXPECT_EQ(slurp(path), expect);
}

TEST_P(WriterTest, OpenUnitStaysOffDisk) {
  std::string path = dir.path + "/b.bin";
  Writer w(opts());
  AppendFile *f = w.open(path);
  std::string a(5000, 'a'), b(3000, 'b');
  f->append(a.data(), a.size());
  f->end_unit();
  f->append(b.data(), b.size());
  w.drain();
  EXPECT_EQ(slurp(path), a);
  EXPECT_EQ(f->disk_size(), a.size());
  f->end_unit();
  w.drain();
  EXPECT_EQ(slurp(path), a + b);
  EXPECT_TRUE(exists(path + ".lock"));
}

TEST_P(WriterTest, InjectedEnospcDropsWholeUnitsAndKeepsEarlierData) {
  std::string path = dir.path + "/c.bin";
  std::mt19937 rng(2);
  WriterOptions o = opts();
  o.inject_enospc_after = 100000;
  std::vector<std::string> units;
  Writer w(o);
  AppendFile *f = w.open(path);
  uint64_t total = 0;
  for (uint32_t i = 0; i < 100; ++i) {
    units.push_back(make_unit(i, 1000 + rng() % 5000, rng));
    f->append(units.back().data(), units.back().size());
    f->end_unit();
    total += units.back().size();
    w.drain();  // one unit per chain, so the limit cuts exactly between units
  }
  w.close(f);
  w.drain();
  std::string data = slurp(path);
  auto seqs = parse_units(data);
  ASSERT_FALSE(seqs.empty());
  // Everything before the first failure is there, in order; later units only whole and in order.
  size_t first_gap = 0;
  while (first_gap < seqs.size() && seqs[first_gap] == first_gap) first_gap++;
  uint64_t before_limit = 0;
  size_t fit = 0;
  while (fit < units.size() && before_limit + units[fit].size() <= 100000) before_limit += units[fit++].size();
  EXPECT_EQ(first_gap, fit);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]);
  EXPECT_LE(data.size(), 100000u);
  EXPECT_GT(w.stats().write_errors, 0u);
  EXPECT_EQ(w.stats().last_errno, ENOSPC);
  EXPECT_EQ(w.stats().bytes_written, data.size());
  EXPECT_EQ(w.stats().bytes_written + w.stats().bytes_dropped, total);
  EXPECT_FALSE(exists(path + ".lock"));
}

// Every submit sends its complete units at once, behind the chains still in
// flight; a failure drops that chain and the ones behind it, cuts the file back
// to whole units, and later units are written again.
TEST_P(WriterTest, ChainsInFlightStayInOrderAndFailTogether) {
  std::string path = dir.path + "/e.bin";
  std::mt19937 rng(5);
  WriterOptions o = opts(64, 16384);
  o.inject_enospc_after = 150000;
  Writer w(o);
  AppendFile *f = w.open(path);
  uint64_t total = 0;
  for (uint32_t i = 0; i < 120; ++i) {
    std::string u = make_unit(i, 500 + rng() % 8000, rng);
    f->append(u.data(), u.size());
    f->end_unit();
    total += u.size();
    w.submit();  // never waits for the disk: several chains of the file are in flight
  }
  w.close(f);
  w.drain();
  std::string data = slurp(path);
  auto seqs = parse_units(data);
  ASSERT_FALSE(seqs.empty());  // units after the cut fit under the limit again
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]);
  EXPECT_LE(data.size(), 150000u);
  EXPECT_GT(w.stats().write_errors, 0u);
  EXPECT_EQ(w.stats().bytes_written, data.size());
  EXPECT_EQ(w.stats().bytes_written + w.stats().bytes_dropped, total);
  EXPECT_FALSE(exists(path + ".lock"));
}

TEST_P(WriterTest, RealEnospcOnTmpfsNeverLeavesHalfUnits) {
  std::string mnt = dir.path + "/mnt";
  mkdir(mnt.c_str(), 0700);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=512k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << strerror(errno) << "); the injected-ENOSPC test covers the logic";
  std::mt19937 rng(3);
  std::vector<std::string> paths = {mnt + "/x.bin", mnt + "/y.bin"};
  uint64_t total = 0;
  WriterStats st;
  {
    Writer w(opts(32, 16384));
    std::vector<AppendFile *> files = {w.open(paths[0]), w.open(paths[1])};
    for (uint32_t i = 0; i < 400; ++i) {
      std::string u = make_unit(i, 500 + rng() % 20000, rng);
      AppendFile *f = files[i % 2];
      f->append(u.data(), u.size());
      f->end_unit();
      total += u.size();
      if (i % 3 == 0) w.submit();
    }
    for (auto *f : files) w.close(f);
    w.drain();
    st = w.stats();
  }
  uint64_t on_disk = 0;
  for (int k = 0; k < 2; ++k) {
    std::string data = slurp(paths[k]);
    on_disk += data.size();
    auto seqs = parse_units(data);
    for (size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]);
    for (uint32_t s : seqs) EXPECT_EQ(s % 2, uint32_t(k));
  }
  EXPECT_GT(st.write_errors, 0u);
  EXPECT_GT(st.bytes_dropped, 0u);
  EXPECT_EQ(st.bytes_written, on_disk);
  EXPECT_EQ(st.bytes_written + st.bytes_dropped, total);
  umount2(mnt.c_str(), MNT_DETACH);
}

// A video stream on a disk that fills up and frees again: what reaches the
// file after the gap starts at a keyframe (here: seq % 5 == 0), every other
// unit follows the one before it, and what was dropped is counted.
TEST_P(WriterTest, DependentUnitsRestartAtAKeyframeAfterRealEnospc) {
  // The loop below expects the ENOSPC of a write within a few submits; SQPOLL
  // posts completions when its kernel thread gets to them, which a 300-unit
  // loop without pauses can outrun.
  if (GetParam() == "io_uring_sqpoll") GTEST_SKIP() << "completions arrive asynchronously under SQPOLL";
  std::string mnt = dir.path + "/mnt";
  mkdir(mnt.c_str(), 0700);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << strerror(errno) << ")";
  std::string filler = mnt + "/filler", path = mnt + "/fcamera.hevc";
  std::ofstream(filler) << std::string(960 << 10, 'f');  // the stream (~300 KB) fills the rest
  std::mt19937 rng(5);
  uint64_t total = 0, skipped = 0, gaps_seen = 0;
  WriterStats st;
  {
    Writer w(opts(16, 16384));
    AppendFile *f = w.open(path, true);
    bool need_key = true;
    for (uint32_t i = 0; i < 300; ++i) {
      if (f->take_gap()) {
        need_key = true;
        gaps_seen++;
      }
      if (gaps_seen && exists(filler)) unlink(filler.c_str());  // the deleter made room
      std::string u = make_unit(i, 300 + rng() % 1500, rng);
      total += u.size();
      if (need_key && i % 5 != 0) {
        skipped++;
        continue;
      }
      need_key = false;
      f->append(u.data(), u.size());
      f->end_unit();
      w.submit();
    }
    EXPECT_EQ(f->gaps(), gaps_seen);
    w.close(f);
    w.drain();
    st = w.stats();
  }
  std::string data = slurp(path);
  auto seqs = parse_units(data);
  ASSERT_FALSE(seqs.empty());
  EXPECT_EQ(seqs[0] % 5, 0u);
  for (size_t i = 1; i < seqs.size(); ++i) {
    if (seqs[i] % 5 != 0) {
      EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << "unit " << seqs[i] << " follows a gap";
    }
  }
  EXPECT_GE(gaps_seen, 1u);
  EXPECT_GT(seqs.back(), 250u) << "writing did not resume after space came back";
  EXPECT_GT(st.bytes_dropped, 0u);
  EXPECT_EQ(st.bytes_written, data.size());
  uint64_t skipped_bytes = total - st.bytes_written - st.bytes_dropped;
  EXPECT_EQ(skipped_bytes > 0, skipped > 0);
  umount2(mnt.c_str(), MNT_DETACH);
}

TEST_P(WriterTest, UnitLargerThanThePoolIsDroppedAndCounted) {
  std::string path = dir.path + "/d.bin";
  Writer w(opts(2, 4096));
  AppendFile *f = w.open(path);
  std::string small(100, 's'), big(20000, 'B');
  f->append(small.data(), small.size());
  f->end_unit();
  f->append(big.data(), big.size());
  f->end_unit();
  f->append(small.data(), small.size());
  f->end_unit();
  w.close(f);
  w.drain();
  EXPECT_EQ(slurp(path), small + small);
  EXPECT_EQ(w.stats().units_dropped, 1u);
  EXPECT_EQ(w.stats().bytes_dropped, big.size());
}

TEST_P(WriterTest, ZstdLogRoundTrip) {
  std::string path = dir.path + "/rlog.zst";
  std::mt19937_64 rng(4);
  std::vector<std::string> events;
  {
    Writer w(opts());
    ZstdLogOptions zo;
    zo.flush_interval_ns = 1000;
    zo.max_frame_bytes = 20000;
    ZstdLogFile log(w, path, zo);
    for (int i = 0; i < 3000; ++i) {
      events.push_back(fake_event(rng, 1 + rng() % 64));
      log.write(events.back().data(), events.back().size(), uint64_t(i) * 100);
      log.maybe_flush(uint64_t(i) * 100);
      if (i % 50 == 0) w.submit();
    }
  }
  LogFileReader r(path);
  std::string_view ev;
  size_t n = 0;
  while (r.next(ev)) {
    ASSERT_LT(n, events.size());
    EXPECT_EQ(ev, events[n]);
    n++;
  }
  EXPECT_EQ(n, events.size());
  EXPECT_EQ(r.warning(), "");
  EXPECT_TRUE(r.compressed());
}

INSTANTIATE_TEST_SUITE_P(Backends, WriterTest, ::testing::Values("io_uring", "io_uring_sqpoll", "pwrite"));

TEST(Backend, EnvSelectsPwriteAndRejectsUnknown) {
  setenv("LOGGERD_IO", "pwrite", 1);
  EXPECT_STREQ(Writer().backend_name(), "pwrite");
  setenv("LOGGERD_IO", "aio", 1);
  EXPECT_THROW(Writer(), std::invalid_argument);
  unsetenv("LOGGERD_IO");
  EXPECT_STREQ(Writer().backend_name(), "io_uring");
}

TEST(Backend, SqpollOptionsComeFromTheEnvironment) {
  setenv("LOGGERD_IO", "io_uring_sqpoll", 1);
  setenv("LOGGERD_SQPOLL_IDLE_MS", "50", 1);
  setenv("LOGGERD_SQPOLL_CPU", "0", 1);
  EXPECT_STREQ(Writer().backend_name(), "io_uring_sqpoll");
  setenv("LOGGERD_SQPOLL_IDLE_MS", "soon", 1);
  EXPECT_THROW(Writer(), std::invalid_argument);
  unsetenv("LOGGERD_SQPOLL_IDLE_MS");
  unsetenv("LOGGERD_SQPOLL_CPU");
  unsetenv("LOGGERD_IO");
}

TEST(Backend, BadOptionsAreClearErrors) {
  WriterOptions o;
  o.buffer_size = 1000;
  EXPECT_THROW(Writer{o}, std::invalid_argument);
  setenv("LOGGERD_INJECT_ENOSPC_AFTER", "lots", 1);
  EXPECT_THROW(Writer(), std::invalid_argument);
  unsetenv("LOGGERD_INJECT_ENOSPC_AFTER");
}

TEST(Backend, OpenFailureNamesThePath) {
  Writer w;
  try {
    w.open("/nonexistent_dir_xyz/rlog.zst");
    FAIL() << "no exception";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent_dir_xyz/rlog.zst"), std::string::npos);
  }
}

// io_uring refused (here by a seccomp filter, as in a container): the Writer
// falls back to pwrite, says why in one line, and still writes correctly.
TEST(Backend, FallsBackToPwriteWhenIoUringIsRefused) {
  TempDir dir;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 2);
    sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),  // seccomp_data.nr
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(3);
    unsetenv("LOGGERD_IO");
    Writer w;
    AppendFile *f = w.open(dir.path + "/x.bin");
    f->append("hello", 5);
    f->end_unit();
    w.close(f);
    w.drain();
    _exit(std::string(w.backend_name()) == "pwrite" && slurp(dir.path + "/x.bin") == "hello" ? 0 : 4);
  }
  close(pipefd[1]);
  int st = 0;
  waitpid(pid, &st, 0);
  char buf[4096];
  ssize_t n = read(pipefd[0], buf, sizeof(buf));
  close(pipefd[0]);
  std::string err(buf, n > 0 ? size_t(n) : 0);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_NE(WEXITSTATUS(st), 3) << "cannot install a seccomp filter here";
  EXPECT_EQ(WEXITSTATUS(st), 0) << err;
  EXPECT_NE(err.find("io_uring unavailable"), std::string::npos) << err;
  EXPECT_NE(err.find("Operation not permitted"), std::string::npos) << err;
  EXPECT_NE(err.find("falling back to pwrite"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one log line: " << err;
}
