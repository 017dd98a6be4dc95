#include "msgq/bench/harness.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/clock.h"
#include "msgq/bench/shared_region.h"

namespace msgq_bench {
namespace {

constexpr uint64_t kWarmup = ~0ull - 1;  // handshake traffic, never measured
constexpr uint64_t kStop = ~0ull;        // tells the pong side to exit
constexpr size_t kMaxSize = 64u << 20;   // keeps rings and pools of every transport sane

using conduit::mono_ns;

struct Options {
  std::string impl, mode, tag = "msgqbench";
  size_t size = 64;
  double seconds = 1.0;
  uint64_t iters = 1000000;
  bool pin = false;
};

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> double {
      std::string v = value();
      size_t used = 0;
      double d = -1;
      try {
        d = std::stod(v, &used);
      } catch (const std::exception &) {
      }
      if (used != v.size() || !(d > 0)) throw std::invalid_argument(a + " needs a positive number, got '" + v + "'");
      return d;
    };
    if (a == "--impl") o.impl = value();
    else if (a == "--mode") o.mode = value();
    else if (a == "--tag") o.tag = value();
    else if (a == "--size") o.size = size_t(number());
    else if (a == "--seconds") o.seconds = number();
    else if (a == "--iters") o.iters = uint64_t(number());
    else if (a == "--pin") o.pin = true;
    else throw std::invalid_argument("unknown argument " + a);
  }
  if (o.mode != "block" && o.mode != "poll" && o.mode != "throughput") {
    throw std::invalid_argument("--mode must be block, poll or throughput, got '" + o.mode + "'");
  }
  if (o.size < sizeof(uint64_t) || o.size > kMaxSize) {
    throw std::invalid_argument("--size must be between 8 and " + std::to_string(kMaxSize) + " bytes, got " +
                                std::to_string(o.size));
  }
  return o;
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    throw std::runtime_error("sched_setaffinity(cpu" + std::to_string(cpu) + "): " + strerror(errno));
  }
}

// Forks a child running `body`. The child dies with its parent, and leaves
// through exit() so libraries (iceoryx) can deregister in their destructors.
pid_t spawn(const std::function<void()> &body) {
  pid_t parent = getpid();
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
  if (pid > 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  int rc = 0;
  try {
    body();
  } catch (const std::exception &e) {
    fprintf(stderr, "msgq_bench (child): %s\n", e.what());
    rc = 3;
  }
  fflush(stdout);
  exit(rc);
}

// Waits for the child; kills it if it is not gone after `timeout_s`.
void reap(pid_t pid, double timeout_s) {
  uint64_t deadline = mono_ns() + uint64_t(timeout_s * 1e9);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (mono_ns() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw std::runtime_error("the peer process did not exit within " + std::to_string(timeout_s) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the peer process failed (wait status " + std::to_string(status) + ")");
  }
}

// Pins the calling thread only, after the transport is built: helper threads
// the transport started (zmq's I/O thread, iceoryx's keep-alive) stay free to
// run on either core, as they would for a user.
void pin_measuring_thread(const Options &o, int cpu) {
  if (o.pin) pin_to(cpu);
}

void row(const char *metric, double value, const char *unit) { printf("row %s %.6g %s\n", metric, value, unit); }

// Sends handshake messages until the peer answers: covers subscriptions that
// take time to reach the publisher (zmq's slow joiner, iceoryx discovery).
void handshake(Transport &t) {
  uint64_t deadline = mono_ns() + 10'000'000'000ull, seq;
  for (;;) {
    t.send(kWarmup);
    if (t.receive(seq, 10)) break;
    if (mono_ns() > deadline) throw std::runtime_error("no reply from the peer process within 10 s");
  }
  while (t.receive(seq, 20)) {
  }
}

double percentile(std::vector<uint64_t> &v, double p) {
  size_t k = std::min(v.size() - 1, size_t(p * double(v.size())));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return double(v[k]);
}

void run_latency(const Options &o, const Impl &impl, SharedRegion *shared) {
  bool poll = o.mode == "poll";
  int timeout = poll ? 0 : -1;
  pid_t child = spawn([&] {
    auto t = impl.make({.pub_channel = 1, .sub_channel = 0, .size = o.size, .tag = o.tag, .shared = shared});
    pin_measuring_thread(o, 1);
    for (uint64_t seq;;) {
      if (!t->receive(seq, timeout)) continue;
      if (seq == kStop) break;
      t->send(seq);
    }
  });

  auto t = impl.make({.pub_channel = 0, .sub_channel = 1, .size = o.size, .tag = o.tag, .shared = shared});
  pin_measuring_thread(o, 0);
  handshake(*t);
  std::vector<uint64_t> rtt;
  rtt.reserve(std::min<uint64_t>(o.iters, 1 << 20));
  uint64_t end = mono_ns() + uint64_t(o.seconds * 1e9);
  for (uint64_t i = 0; i < o.iters; ++i) {
    uint64_t t0 = mono_ns(), seq;
    t->send(i);
    do {
      while (!t->receive(seq, timeout)) {
      }
    } while (seq != i);
    uint64_t t1 = mono_ns();
    rtt.push_back(t1 - t0);
    if (t1 > end) break;
  }
  t->send(kStop);
  reap(child, 10);

  // The first round trips fault pages in and warm caches: not steady state.
  size_t skip = std::min<size_t>(100, rtt.size() / 10);
  std::vector<uint64_t> steady(rtt.begin() + skip, rtt.end());
  if (steady.empty()) throw std::runtime_error("no round trip completed");
  const double to_oneway_us = 0.5e-3;
  row(poll ? "poll_p50_us" : "p50_us", percentile(steady, 0.50) * to_oneway_us, "us");
  row(poll ? "poll_p99_us" : "p99_us", percentile(steady, 0.99) * to_oneway_us, "us");
  printf("note %s %s %zuB: %zu round trips, one-way = RTT/2\n", impl.name, o.mode.c_str(), o.size, steady.size());
}

uint64_t process_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// The subscriber of a throughput run: counts what arrives, checks the order,
// and leaves its results in the shared region. It reads the clock only when it
// runs dry, so the clock does not slow the receive loop it measures.
void subscribe_and_count(Transport &t, SharedRegion *sh, double seconds) {
  uint64_t count = 0, first = 0, last = 0, lost0 = 0, t_first = 0, t_dry = 0, cpu_first = 0;
  uint64_t give_up = mono_ns() + uint64_t((seconds + 30) * 1e9);
  for (uint64_t seq;;) {
    if (!t.receive(seq, 0)) {
      if (count > 0) t_dry = mono_ns();
      // Stop only after a quiet spell that began once the publisher was done.
      bool publisher_done = sh->pub_done.load();
      if (t.receive(seq, 100)) {
      } else if (publisher_done) {
        break;
      } else if (mono_ns() > give_up) {
        throw std::runtime_error("throughput: publisher never finished");
      } else {
        continue;
      }
    }
    if (seq == kWarmup) {
      sh->sub_started.store(1);
      continue;
    }
    if (count == 0) {
      first = seq;
      t_first = mono_ns();
      cpu_first = process_cpu_ns();
      lost0 = t.lost();
    } else if (seq <= last) {
      throw std::runtime_error("throughput: message " + std::to_string(seq) + " arrived after " + std::to_string(last));
    }
    last = seq;
    ++count;
  }
  sh->received = count;
  sh->first_seq = first;
  sh->last_seq = last;
  sh->first_ns = t_first;
  sh->last_ns = t_dry;
  sh->sub_cpu_ns = process_cpu_ns() - cpu_first;
  sh->transport_lost = t.lost() - lost0;
  sh->reports_lost = t.reports_lost();
  sh->sub_done.store(1);
}

void run_throughput(const Options &o, const Impl &impl, SharedRegion *sh) {
  if (!impl.throughput) throw std::invalid_argument(std::string(impl.name) + " has no throughput mode");
  pid_t child = spawn([&] {
    auto t = impl.make({.pub_channel = kNoChannel, .sub_channel = 0, .size = o.size, .tag = o.tag, .shared = sh});
    pin_measuring_thread(o, 1);
    subscribe_and_count(*t, sh, o.seconds);
  });

  auto t = impl.make({.pub_channel = 0, .sub_channel = kNoChannel, .size = o.size, .tag = o.tag, .shared = sh});
  pin_measuring_thread(o, 0);
  uint64_t deadline = mono_ns() + 10'000'000'000ull;
  while (!sh->sub_started.load()) {
    if (mono_ns() > deadline) throw std::runtime_error("throughput: the subscriber never received a message");
    t->send(kWarmup);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  uint64_t sent = 0, t0 = mono_ns(), t1 = t0, end = t0 + uint64_t(o.seconds * 1e9);
  for (;;) {
    t->send(sent++);
    if ((sent & 63) == 0 && (t1 = mono_ns()) > end) break;
  }
  sh->sent = sent;
  sh->pub_done.store(1);
  reap(child, 60);  // the publisher stays alive until the subscriber has drained

  uint64_t received = sh->received;
  if (received < 2 || sh->last_ns <= sh->first_ns) throw std::runtime_error("throughput: fewer than 2 messages received");
  row("msgs_per_s", double(received) / double(sh->last_ns - sh->first_ns) * 1e9, "msg/s");
  row("sent_per_s", double(sent) / double(t1 - t0) * 1e9, "msg/s");
  row("lost_pct", 100.0 * double(sent - received) / double(sent), "%");
  row("sub_cpu_ns_per_msg", double(sh->sub_cpu_ns) / double(received), "ns");
  uint64_t gaps = sh->last_seq - sh->first_seq + 1 - received;
  printf("note %s throughput %zuB: sent %llu received %llu, gaps in sequence %llu, transport-reported lost %llu\n",
         impl.name, o.size, (unsigned long long)sent, (unsigned long long)received, (unsigned long long)gaps,
         (unsigned long long)sh->transport_lost);
  // The transport's own loss counter must agree with the sequence numbers.
  if (sh->reports_lost && sh->transport_lost != gaps) {
    printf("note WARNING %s lost() says %llu messages lost, the sequence numbers say %llu\n", impl.name,
           (unsigned long long)sh->transport_lost, (unsigned long long)gaps);
  }
}

}  // namespace

int bench_main(int argc, char **argv, const std::vector<Impl> &impls) {
  try {
    Options o = parse(argc, argv);
    auto it = std::find_if(impls.begin(), impls.end(), [&](const Impl &i) { return o.impl == i.name; });
    if (it == impls.end()) {
      std::string known;
      for (auto &i : impls) known += std::string(known.empty() ? "" : ", ") + i.name;
      throw std::invalid_argument("unknown --impl '" + o.impl + "'; this binary has: " + known);
    }
    // A wedged peer must not hang the benchmark forever.
    alarm(unsigned(o.seconds) + 50);
    SharedRegion *shared = SharedRegion::create(o.size);
    if (o.pin) printf("note pinned: ping/publisher thread on cpu0, pong/subscriber thread on cpu1\n");
    if (o.mode == "throughput") {
      run_throughput(o, *it, shared);
    } else {
      run_latency(o, *it, shared);
    }
    return 0;
  } catch (const std::exception &e) {
    fprintf(stderr, "msgq_bench: %s\n", e.what());
    return 2;
  }
}

}  // namespace msgq_bench
