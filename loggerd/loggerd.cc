// loggerd: records every logged service and the encoders' video into route
// segments under the log root (docs/architecture.md "Files on disk", loggerd/README.md).
//
// One thread, one loop turn at a time: wait on the msgq Poller, drain every
// socket, write (rlog/qlog through zstd, video packets as they come), end log
// frames due before the next turn, then submit all writes and sleep until the
// next turn in one io_uring_enter (Writer::submit). A turn lasts one flush
// window; after a backlog, turns follow each other without a pause and submit
// every few turns. Once a second: rotation timer, loggerdState; every 5 s (or
// 64 MB) the deleter.
//
// Video packets and the rotation that follows the encoders: loggerd/video_streams.h.
// Packets dropped there (before a keyframe, after a failed write) are counted
// in loggerdState (droppedBytes, droppedMessages).
//
// Readiness: the sockets exist before the first segment's rlog.zst is created.
// SIGINT/SIGTERM: final sentinel (endOfRoute, signal number), flush, fsync, locks
// removed, exit 0; a stop that hangs (a stuck disk) ends by SIGALRM after
// kStopLimitS, so loggerd never outlives its manager by long.
//
// Restarts: a LOGGERD_ROUTE that already has segments under the root is
// continued with the next segment number (the manager names one route per run,
// so a restarted loggerd continues it). At start, lock files whose writer died
// (a SIGKILLed loggerd) are removed: their files are as complete as they will get.
#include <signal.h>
#include <unistd.h>

#include <capnp/schema.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cereal/event_check.h"
#include "cereal/messaging.h"
#include "cereal/streams.h"
#include "common/clock.h"
#include "common/command_line.h"
#include "common/prefix.h"
#include "common/stop_signal.h"
#include "common/watchdog.h"
#include "loggerd/deleter.h"
#include "loggerd/file_lock.h"
#include "loggerd/init_data.h"
#include "loggerd/log_file_reader.h"
#include "loggerd/route.h"
#include "loggerd/route_logger.h"
#include "loggerd/video_streams.h"
#include "loggerd/writer.h"

namespace {

volatile sig_atomic_t g_signal = 0;
constexpr unsigned kStopLimitS = 10;
void on_signal(int sig) {
  g_signal = sig;
  alarm(kStopLimitS);
}

constexpr uint64_t kSecond = 1'000'000'000ull;
constexpr uint64_t kDeleterPeriodNs = 5 * kSecond;
constexpr int kMaxPerSocketPerTurn = 4096;
// Flat out, a ring refills within microseconds of loggerd catching up: look
// this long before sleeping on the futex, a syscall and a wake-up each time.
constexpr uint64_t kFlatOutSpinNs = 50'000;

double env_num(const char *name, double fallback) {
  const char *v = getenv(name);
  if (!v || !*v) return fallback;
  char *end;
  double x = strtod(v, &end);
  if (*end || x < 0) {
    fprintf(stderr, "loggerd: %s: expected a non-negative number, found '%s'\n", name, v);
    exit(2);
  }
  return x;
}

std::string default_route_name(const std::string &root) {
  char buf[64];
  time_t t = time(nullptr);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%d--%H-%M-%S", &tm);
  std::string name = buf;
  for (int i = 2; std::filesystem::exists(root + "/" + name + "--0"); ++i) name = std::string(buf) + "_" + std::to_string(i);
  return name;
}

struct Source {
  std::string name;
  std::unique_ptr<msgq::SubSocket> sock;
  int decimation = -1;   // qlog keeps message i of a segment when i % decimation == 0
  int encoder = -1;      // index into cereal::kVideos for *EncodeData topics
  cereal::Event::Which which{};  // the union member its messages must hold
  uint64_t segment_count = 0;
  uint64_t lost_seen = 0;  // sock->lost() at the end of the last turn
};

class Loggerd {
 public:
  Loggerd(int argc, char **argv);
  int run();

 private:
  void handle(Source &src, msgq::Message &msg, uint64_t now);
  void rotate(uint64_t now);
  void once_a_second(uint64_t now);
  void fill_streams(cereal::LoggerdState::Builder ls);

  std::string root_;
  loggerd::InitInfo info_;
  int first_segment_ = 0;
  uint64_t segment_ns_, turn_ns_, batch_ns_;
  std::unique_ptr<loggerd::Writer> writer_;
  std::unique_ptr<loggerd::RouteLogger> logger_;
  std::unique_ptr<loggerd::Deleter> deleter_;
  std::vector<Source> sources_;
  std::unique_ptr<msgq::Poller> poller_;
  std::unique_ptr<cereal::PubMaster> pm_;
  std::unique_ptr<loggerd::VideoStreams> videos_;
  uint64_t segment_start_ns_ = 0, next_second_ns_ = 0, next_deleter_ns_ = 0, deleter_bytes_ = 0;
  uint64_t flat_out_until_ns_ = 0;  // no pause between turns before this (after a backlog)
  uint64_t next_submit_ns_ = 0;     // flat out: the turn that hands the batch to the kernel
  uint64_t bad_messages_ = 0;
  uint64_t invalid_messages_ = 0;  // well framed, but refused by cereal/event_check.h
};

Loggerd::Loggerd(int argc, char **argv) : root_(loggerd::log_root()) {
  std::filesystem::create_directories(root_);
  const char *route = getenv("LOGGERD_ROUTE");
  info_.route = route && *route ? route : default_route_name(root_);
  conduit::check_name(info_.route, "LOGGERD_ROUTE");
  for (const auto &s : loggerd::list_segments(root_))
    if (s.route == info_.route) first_segment_ = std::max(first_segment_, s.number + 1);
  for (const std::string &lock : loggerd::remove_stale_locks(root_))
    fprintf(stderr, "loggerd: removed stale lock %s (its writer died)\n", lock.c_str());
  for (int i = 0; i < argc; ++i) info_.command_line.push_back(argv[i]);
  segment_ns_ = uint64_t(env_num("LOGGERD_SEGMENT_SECONDS", 60) * kSecond);
  loggerd::ZstdLogOptions lo;
  lo.flush_interval_ns = uint64_t(env_num("LOGGERD_FLUSH_MS", 200) * 1e6);
  // One turn per flush window: a message waits at most one turn in its ring, and
  // the turn that reads it ends its log frame (maybe_flush below), so it is on
  // disk within the window. Long turns make big batches: one io_uring_enter per
  // turn carries every file's data of that window.
  turn_ns_ = uint64_t(env_num("LOGGERD_TURN_MS", lo.flush_interval_ns / 1e6) * 1e6);
  // Flat out (below), the turns of half a window go to the kernel together.
  batch_ns_ = turn_ns_ / 2;
  lo.level = int(env_num("LOGGERD_ZSTD_LEVEL", 3));
  writer_ = std::make_unique<loggerd::Writer>();
  fprintf(stderr, "loggerd: route %s under %s from segment %d%s, io %s\n", info_.route.c_str(), root_.c_str(), first_segment_,
          first_segment_ ? " (continued)" : "", writer_->backend_name());

  loggerd::DeleterOptions dopt;
  dopt.min_free_percent = env_num("LOGGERD_MIN_FREE_PERCENT", 10);
  dopt.min_free_bytes = uint64_t(env_num("LOGGERD_MIN_FREE_MB", 0) * 1024 * 1024);
  deleter_ = std::make_unique<loggerd::Deleter>(root_, dopt);

  poller_ = msgq::Poller::create();
  for (const cereal::Service &s : cereal::kServices) {
    int enc = -1;
    bool derived = false;
    for (const cereal::Video &v : cereal::kVideos) {
      if (s.name == v.data_service) enc = int(v.id);
      if (s.name == v.idx_service) derived = true;
    }
    bool self_written = s.name == "initData" || s.name == "sentinel";
    if ((!s.should_log || derived || self_written) && enc < 0) continue;
    Source src;
    src.name = std::string(s.name);
    msgq::SubOptions so;
    so.ring_size = s.ring_size;
    src.sock = msgq::SubSocket::create(src.name, so);
    src.decimation = s.decimation;
    src.encoder = enc;
    src.which = static_cast<cereal::Event::Which>(
        capnp::Schema::from<cereal::Event>().getFieldByName(src.name).getProto().getDiscriminantValue());
    sources_.push_back(std::move(src));
  }
  for (auto &s : sources_) poller_->add(*s.sock);
  pm_ = std::make_unique<cereal::PubMaster>(std::vector<std::string>{"loggerdState"});

  logger_ = std::make_unique<loggerd::RouteLogger>(*writer_, root_, info_.route, lo,
                                                   [this](cereal::MessageBuilder &b) { loggerd::build_init_data(b, info_); });
  videos_ = std::make_unique<loggerd::VideoStreams>(*logger_);
}

void Loggerd::handle(Source &src, msgq::Message &msg, uint64_t now) {
  if (loggerd::capnp_message_size(msg.data(), msg.size()) != int64_t(msg.size())) {
    if (bad_messages_++ % 1000 == 0)
      fprintf(stderr, "loggerd: dropping a malformed %zu-byte message on %s (%llu so far)\n", msg.size(), src.name.c_str(),
              (unsigned long long)bad_messages_);
    return;
  }
  // What readers could not read in full, or that claims another service, stays out of the logs.
  cereal::Event::Which which;
  auto problem = cereal::event_problem(kj::arrayPtr(reinterpret_cast<const capnp::word *>(msg.data()), msg.size() / 8), &which);
  if (problem || which != src.which) {
    if (invalid_messages_++ % 1000 == 0)
      fprintf(stderr, "loggerd: keeping an invalid %s message out of the log: %s (%llu so far)\n", src.name.c_str(),
              problem ? problem->c_str() : "holds another service's member", (unsigned long long)invalid_messages_);
    return;
  }
  if (src.encoder >= 0) return videos_->handle(src.encoder, msg, now);
  bool qlog = src.decimation > 0 && src.segment_count % uint64_t(src.decimation) == 0;
  src.segment_count++;
  logger_->log(msg.data(), msg.size(), qlog, now);
}

void Loggerd::rotate(uint64_t now) {
  videos_->end_segment();
  logger_->end_segment(false);
  logger_->start_segment(logger_->segment() + 1);
  segment_start_ns_ = now;
  for (auto &s : sources_) s.segment_count = 0;
  videos_->start_segment();
}

void Loggerd::once_a_second(uint64_t now) {
  const auto &st = writer_->stats();
  // Free space changes slowly next to loggerd's own writes: look every 5 s, or
  // sooner once 64 MB went out since the last look.
  if (now >= next_deleter_ns_ || st.bytes_written >= deleter_bytes_ + (64ull << 20)) {
    deleter_->run(logger_->segment_path());
    next_deleter_ns_ = now + kDeleterPeriodNs;
    deleter_bytes_ = st.bytes_written;
  }
  uint64_t lost = 0;
  for (auto &s : sources_) lost += s.sock->lost();
  cereal::MessageBuilder b;
  auto ls = b.initEvent().initLoggerdState();
  ls.setSegmentNum(logger_->segment());
  ls.setDroppedBytes(st.bytes_dropped);
  ls.setDroppedMessages(lost + bad_messages_ + videos_->bad_messages() + invalid_messages_ + videos_->skipped());
  ls.setInvalidMessages(invalid_messages_);
  ls.setBytesWritten(st.bytes_written);
  ls.setIoBackend(writer_->backend_name());
  ls.setRoute(info_.route);
  ls.setBytesLogged(logger_->bytes_logged());
  ls.setFlushes(logger_->flushes());
  ls.setPendingBytes(writer_->pending_bytes());
  ls.setWriteErrors(st.write_errors);
  fill_streams(ls);
  pm_->send("loggerdState", b);
}

// Per video file that got packets: written, dropped (lapped in the ring before
// loggerd read them, or skipped while waiting for a keyframe), held for the next segment.
void Loggerd::fill_streams(cereal::LoggerdState::Builder ls) {
  size_t n = 0;
  for (int v = 0; v < int(cereal::kVideos.size()); ++v) n += videos_->seen(v);
  auto out = ls.initStreams(uint32_t(n));
  uint32_t i = 0;
  for (auto &src : sources_) {
    if (src.encoder >= 0 && videos_->seen(src.encoder)) videos_->fill_stats(src.encoder, out[i++], src.sock->lost());
  }
}

int Loggerd::run() {
  uint64_t now = conduit::mono_ns();
  logger_->start_segment(first_segment_);
  segment_start_ns_ = now;
  next_second_ns_ = now + kSecond;
  writer_->submit();
  msgq::Message msg;
  while (!g_signal) {
    // Idle: sleep until a message, or the once-a-second work is due.
    uint64_t idle_start = conduit::mono_ns();
    poller_->spin_then_poll(int(std::clamp<int64_t>((int64_t(next_second_ns_) - int64_t(idle_start)) / 1000000 + 1, 1, 1000)),
                            idle_start < flat_out_until_ns_ ? kFlatOutSpinNs : 0);
    conduit::watchdog_kick();
    uint64_t turn_start = conduit::mono_ns();
    int handled = 0;
    bool backlog = false;  // a socket had more than a turn can take
    for (auto &src : sources_) {
      int i = 0;
      for (; i < kMaxPerSocketPerTurn && src.sock->receive(msg, 0); ++i) handle(src, msg, turn_start);
      handled += i;
      // A full share, or a ring that lapped us: the publishers outrun the turn.
      uint64_t lost = src.sock->lost();
      backlog |= i == kMaxPerSocketPerTurn || lost != src.lost_seen;
      src.lost_seen = lost;
    }
    now = conduit::mono_ns();
    if (videos_->rotation_due(now, segment_start_ns_, segment_ns_)) rotate(now);
    if (now >= next_second_ns_) {
      once_a_second(now);
      next_second_ns_ = now + kSecond;
    }
    // After a turn with messages, let more gather until the next one: each wake-up
    // and io_uring_enter then carries a batch (io_uring sleeps inside the submit).
    // After a backlog there is no pause for a second: loggerd runs flat out, since
    // one pause would let the rings lap it again, and hands the writes of its turns
    // to the kernel together every batch_ns_ (sooner when buffers run low).
    if (backlog) flat_out_until_ns_ = now + kSecond;
    bool flat_out = now < flat_out_until_ns_ && !g_signal;
    if (flat_out && now < next_submit_ns_ && !writer_->low_on_buffers()) continue;
    logger_->maybe_flush(flat_out ? now + batch_ns_ : turn_start + turn_ns_);  // frames due before the next submit end now
    writer_->submit(handled > 0 && !flat_out && !g_signal ? turn_start + turn_ns_ : 0);
    next_submit_ns_ = now + batch_ns_;
  }
  // Drain what arrived before the signal, then close the route.
  now = conduit::mono_ns();
  for (auto &src : sources_)
    while (src.sock->receive(msg, 0)) handle(src, msg, now);
  videos_->end_segment();
  logger_->end_segment(true, g_signal);
  writer_->drain();
  const auto &st = writer_->stats();
  fprintf(stderr, "loggerd: stopped by signal %d; %llu bytes written, %llu dropped, %llu write errors\n", int(g_signal),
          (unsigned long long)st.bytes_written, (unsigned long long)st.bytes_dropped, (unsigned long long)st.write_errors);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  // Before anything else: a stop during start-up still ends the route cleanly.
  conduit::on_stop_signal(on_signal);
  conduit::CommandLine cl("loggerd",
                          "Records every logged service and the encoders' video into route segments under the log\n"
                          "root (loggerd/README.md). Other settings come from the environment (LOGGERD_*, CONDUIT_LOG_ROOT).");
  cl.option("io", "MODE", "", "I/O engine: io_uring, io_uring_sqpoll (a kernel thread polls the submission ring, so\n"
            "                            submitting needs no syscall) or pwrite (default: $LOGGERD_IO, else io_uring)");
  cl.option("sqpoll-idle-ms", "MS", "", "io_uring_sqpoll: how long the kernel thread polls without work before it\n"
            "                            sleeps (default: $LOGGERD_SQPOLL_IDLE_MS, else 1000)");
  cl.option("sqpoll-cpu", "CPU", "", "io_uring_sqpoll: pin the kernel thread to this CPU (default: $LOGGERD_SQPOLL_CPU)");
  try {
    if (!cl.parse(argc, argv)) {
      printf("%s", cl.help().c_str());
      return 0;
    }
    const std::string &io = cl.str("io");
    if (!io.empty() && io != "io_uring" && io != "io_uring_sqpoll" && io != "pwrite")
      throw std::invalid_argument("loggerd: --io '" + io + "': expected io_uring, io_uring_sqpoll or pwrite");
    // The flags stand for the environment variables the I/O engine reads (io_backend.h).
    if (!io.empty()) setenv("LOGGERD_IO", io.c_str(), 1);
    for (auto [flag, env, max] : {std::tuple{"sqpoll-idle-ms", "LOGGERD_SQPOLL_IDLE_MS", 1 << 30},
                                  {"sqpoll-cpu", "LOGGERD_SQPOLL_CPU", 4096}}) {
      if (!cl.str(flag).empty()) setenv(env, std::to_string(cl.integer(flag, 0, max)).c_str(), 1);
    }
  } catch (const std::invalid_argument &e) {
    fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  try {
    Loggerd d(argc, argv);
    return d.run();
  } catch (const std::exception &e) {
    fprintf(stderr, "loggerd: %s\n", e.what());
    return 1;
  }
}
