// Frame handoff latency harness for `tools/bench/run visionipc`.
//
//   visionipc_bench vipc_msgq SAMPLES            VisionIPC 4KiB/1MiB/1928x1208 + msgq 64 B, interleaved
//   visionipc_bench latency IMPL CASE SAMPLES    IMPL: zmq_ipc iceoryx
//   visionipc_bench producer CLIENTS SAMPLES
//
// Every measurement forks its consumers: one process writes, the others read,
// as in the real pipeline. One-way latency = CLOCK_MONOTONIC when the consumer
// has the frame minus CLOCK_MONOTONIC just before the producer's send call (the
// producer fills the frame before that). The producer waits for the consumer's
// acknowledgement (shared memory, polled with short sleeps), writes the next
// frame and pauses 200 us before sending it, so every sample is a cold wake-up
// as at camera rate, never a queue or a consumer that is still spinning.
// Output: lines "ROW impl case metric value unit"; "SKIP reason" when an impl
// cannot run here.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "msgq/msgq.h"
#include "visionipc/visionipc_client.h"
#include "visionipc/visionipc_server.h"

#ifdef HAVE_ICEORYX
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#endif

namespace {

constexpr int kMaxSamples = 100000;
constexpr int kWarmup = 50;
constexpr int kMaxClients = 8;

struct Shared {
  std::atomic<int> ready;                   // consumers attached
  std::atomic<uint64_t> acked[kMaxClients];  // frames each consumer has
  std::atomic<int> stop;
  int64_t latency_ns[kMaxClients][kMaxSamples];  // per consumer
};

struct Case {
  std::string name;
  size_t bytes;              // payload for byte transports
  uint32_t width, height;    // NV12 geometry for VisionIPC
};

Case parse_case(const std::string &name) {
  if (name == "4KiB") return {name, 4096, 64, 42};        // 4032 B of NV12
  if (name == "1MiB") return {name, 1 << 20, 1024, 682};  // 1047552 B of NV12
  if (name == "1928x1208") return {name, 1928 * 1208 * 3 / 2, 1928, 1208};
  if (name == "64B") return {name, 64, 0, 0};
  fprintf(stderr, "unknown case %s: expected 4KiB, 1MiB, 1928x1208 or 64B\n", name.c_str());
  exit(2);
}

void sleep_us(int us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

Shared *shared() {
  void *p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return new (p) Shared{};
}

// Waits until consumers first .. first+count-1 acknowledged `n` frames (false
// after 5 s: a lost frame).
bool wait_ack(Shared *sh, int first, int count, uint64_t n) {
  uint64_t end = conduit::mono_ns() + 5'000'000'000ull;
  for (int c = first; c < first + count; c++) {
    while (sh->acked[c].load(std::memory_order_acquire) < n) {
      if (conduit::mono_ns() > end) return false;
      sleep_us(20);
    }
  }
  return true;
}

// Between writing a frame and sending it: the consumers are asleep again and the
// frame is complete, as when a camera's DMA finishes and the driver announces it.
void settle() { sleep_us(200); }

bool wait_ready(Shared *sh, int clients) {
  uint64_t end = conduit::mono_ns() + 20'000'000'000ull;
  while (sh->ready.load() < clients) {
    if (conduit::mono_ns() > end) return false;
    sleep_us(500);
  }
  return true;
}

// Samples of consumer `idx` after the warm-up.
std::vector<int64_t> measured(const Shared *sh, int idx, int samples) {
  return std::vector<int64_t>(sh->latency_ns[idx] + kWarmup, sh->latency_ns[idx] + samples);
}

void print_percentiles(const std::string &impl, const Case &c, std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, size_t(p * double(v.size())))] / 1000.0; };
  printf("ROW %s %s p50_us %.3f us\n", impl.c_str(), c.name.c_str(), pct(0.50));
  printf("ROW %s %s p99_us %.3f us\n", impl.c_str(), c.name.c_str(), pct(0.99));
}

// Forks `clients` consumers running `consume(index)` (exit status 0 = ok),
// runs `produce()` in this process, and reaps them.
int run_forked(Shared *sh, int clients, const std::function<int(int)> &consume, const std::function<int()> &produce) {
  std::vector<pid_t> kids;
  fflush(stdout);
  for (int i = 0; i < clients; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      // exit(), not _exit(): iceoryx's runtime must deregister from RouDi on the way out.
      exit(consume(i));
    }
    kids.push_back(pid);
  }
  int rc = produce();
  sh->stop = 1;
  for (pid_t k : kids) {
    int status = 0;
    uint64_t end = conduit::mono_ns() + 3'000'000'000ull;
    while (waitpid(k, &status, WNOHANG) == 0) {
      if (conduit::mono_ns() > end) {
        kill(k, SIGKILL);
        waitpid(k, &status, 0);
        break;
      }
      sleep_us(1000);
    }
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) rc = 1;
  }
  return rc;
}

// ---- VisionIPC -------------------------------------------------------------

// VisionIPC at three frame sizes and msgq with 64 B, sample by sample in turn,
// so the ratios the targets compare are measured under the same load.
// Consumer 0 reads msgq, consumer k (1..3) the VisionIPC server of kMixCases[k-1].
const char *kMixCases[] = {"4KiB", "1MiB", "1928x1208"};

int visionipc_msgq_latency(int samples) {
  Shared *sh = shared();
  std::string base = "bench" + std::to_string(getpid());
  std::string topic = base + "_msgq";
  auto consume = [&](int idx) {
    if (idx == 0) {
      auto sub = msgq::SubSocket::create(topic);
      sh->ready++;
      msgq::Message m;
      for (int i = 0; i < samples;) {
        if (!sub->receive(m, 100)) {
          if (sh->stop) return 1;
          continue;
        }
        uint64_t t0;
        memcpy(&t0, m.data(), sizeof(t0));
        sh->latency_ns[idx][i] = int64_t(conduit::mono_ns() - t0);
        sh->acked[idx].store(++i, std::memory_order_release);
      }
      return 0;
    }
    VisionIpcClient client(base + "_" + std::to_string(idx), VISION_STREAM_ROAD, false);
    client.connect(true);
    sh->ready++;
    VisionIpcBufExtra extra;
    for (int i = 0; i < samples;) {
      VisionBuf *b = client.recv(&extra, 100);
      if (!b) {
        if (sh->stop) return 1;
        continue;
      }
      sh->latency_ns[idx][i] = int64_t(conduit::mono_ns() - extra.timestamp_sof);
      sh->acked[idx].store(++i, std::memory_order_release);
    }
    return 0;
  };
  auto produce = [&] {
    std::vector<std::unique_ptr<VisionIpcServer>> servers;
    for (int k = 0; k < 3; k++) {
      Case c = parse_case(kMixCases[k]);
      servers.push_back(std::make_unique<VisionIpcServer>(base + "_" + std::to_string(k + 1)));
      servers.back()->create_buffers(VISION_STREAM_ROAD, 4, c.width, c.height);
      servers.back()->start_listener();
    }
    auto pub = msgq::PubSocket::create(topic);
    if (!wait_ready(sh, 4)) return 1;
    char payload[64] = {};
    for (int i = 0; i < samples; i++) {
      settle();
      uint64_t t0 = conduit::mono_ns();
      memcpy(payload, &t0, sizeof(t0));
      pub->send(payload, sizeof(payload));
      if (!wait_ack(sh, 0, 1, i + 1)) return 1;
      for (int k = 0; k < 3; k++) {
        VisionBuf *b = servers[k]->get_buffer(VISION_STREAM_ROAD);
        if (!b) return 1;
        memset(b->addr, i, b->width() * b->height() * 3 / 2);
        settle();
        VisionIpcBufExtra extra{uint32_t(i), conduit::mono_ns(), 0, true};
        servers[k]->send(b, &extra);
        if (!wait_ack(sh, k + 1, 1, i + 1)) return 1;
      }
    }
    return 0;
  };
  if (run_forked(sh, 4, consume, produce) != 0) return 1;
  print_percentiles("msgq_64B", parse_case("64B"), measured(sh, 0, samples));
  for (int k = 0; k < 3; k++) print_percentiles("visionipc", parse_case(kMixCases[k]), measured(sh, k + 1, samples));
  return 0;
}

int visionipc_producer_cost(int clients, int samples) {
  Shared *sh = shared();
  std::string name = "benchp" + std::to_string(getpid());
  auto consume = [&](int idx) {
    VisionIpcClient client(name, VISION_STREAM_ROAD, false);
    client.connect(true);
    sh->ready++;
    for (int i = 0; i < samples;) {
      if (client.recv(nullptr, 100)) {
        sh->acked[idx].store(++i, std::memory_order_release);
      } else if (sh->stop) {
        return 1;
      }
    }
    return 0;
  };
  // CPU time is the cost; wall time also counts being preempted by the consumers we woke.
  std::vector<int64_t> cpu, wall;
  auto thread_cpu_ns = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  };
  auto produce = [&] {
    VisionIpcServer server(name);
    server.create_buffers(VISION_STREAM_ROAD, 4 + clients, 1928, 1208);
    server.start_listener();
    if (!wait_ready(sh, clients)) return 1;
    for (int i = 0; i < samples; i++) {
      settle();
      int64_t c0 = thread_cpu_ns();
      uint64_t t0 = conduit::mono_ns();
      VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD);
      if (!b) return 1;
      VisionIpcBufExtra extra{uint32_t(i), t0, 0, true};
      server.send(b, &extra);
      wall.push_back(int64_t(conduit::mono_ns() - t0));
      cpu.push_back(thread_cpu_ns() - c0);
      if (!wait_ack(sh, 0, clients, i + 1)) return 1;
    }
    return 0;
  };
  if (run_forked(sh, clients, consume, produce) != 0) return 1;
  auto median_us = [](std::vector<int64_t> &v) {
    std::sort(v.begin() + kWarmup, v.end());
    return v[kWarmup + (v.size() - kWarmup) / 2] / 1000.0;
  };
  // Reading the thread CPU clock is a syscall; take its own cost out of the figure.
  std::vector<int64_t> empty;
  for (int i = 0; i < kWarmup + 1000; i++) {
    int64_t c0 = thread_cpu_ns();
    empty.push_back(thread_cpu_ns() - c0);
  }
  const char *label = clients == 1 ? "client" : "clients";
  printf("ROW visionipc_producer %d%s us_per_frame %.3f us\n", clients, label,
         std::max(0.0, median_us(cpu) - median_us(empty)));
  printf("ROW visionipc_producer %d%s wall_us_per_frame %.3f us\n", clients, label, median_us(wall));
  return 0;
}

// ---- libzmq ipc (the frame bytes are copied) -------------------------------

int zmq_latency(const Case &c, int samples) {
  Shared *sh = shared();
  std::string endpoint = "ipc:///tmp/vipcbench_zmq_" + std::to_string(getpid());
  auto consume = [&](int idx) {
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PULL);
    if (zmq_bind(s, endpoint.c_str()) != 0) return 1;
    sh->ready++;
    int timeout = 100;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_msg_t m;
    zmq_msg_init(&m);
    int rc = 0;
    for (int i = 0; i < samples;) {
      if (zmq_msg_recv(&m, s, 0) < 0) {
        if (sh->stop) {
          rc = 1;
          break;
        }
        continue;
      }
      uint64_t t0;
      memcpy(&t0, zmq_msg_data(&m), sizeof(t0));
      sh->latency_ns[idx][i] = int64_t(conduit::mono_ns() - t0);
      sh->acked[idx].store(++i, std::memory_order_release);
    }
    zmq_msg_close(&m);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
  };
  auto produce = [&] {
    if (!wait_ready(sh, 1)) return 1;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    zmq_connect(s, endpoint.c_str());
    std::vector<uint8_t> frame(c.bytes);
    int rc = 0;
    for (int i = 0; i < samples && rc == 0; i++) {
      memset(frame.data(), i, frame.size());
      settle();
      uint64_t t0 = conduit::mono_ns();
      memcpy(frame.data(), &t0, sizeof(t0));
      if (zmq_send(s, frame.data(), frame.size(), 0) != int(frame.size()) || !wait_ack(sh, 0, 1, i + 1)) rc = 1;
    }
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
  };
  int rc = run_forked(sh, 1, consume, produce);
  unlink(endpoint.c_str() + strlen("ipc://"));
  if (rc != 0) return 1;
  print_percentiles("zmq_ipc", c, measured(sh, 0, samples));
  return 0;
}

// ---- iceoryx (loaned chunks; needs a running iox-roudi) --------------------

#ifdef HAVE_ICEORYX
int iceoryx_latency(const Case &c, int samples) {
  Shared *sh = shared();
  iox::capro::ServiceDescription service{"conduit", "vipcbench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, c.name.c_str())};
  std::string sub_rt = "vipcbench_sub_" + std::to_string(getpid());
  auto consume = [&](int idx) {
    iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, sub_rt.c_str()));
    iox::popo::SubscriberOptions opts;
    opts.queueCapacity = 4;
    iox::popo::UntypedSubscriber sub(service, opts);
    iox::popo::WaitSet<> waitset;
    waitset.attachState(sub, iox::popo::SubscriberState::HAS_DATA).or_else([](auto) { _exit(3); });
    sh->ready++;
    for (int i = 0; i < samples;) {
      auto events = waitset.timedWait(iox::units::Duration::fromMilliseconds(100));
      if (events.empty() && sh->stop) return 1;
      while (i < samples) {
        auto taken = sub.take();
        if (taken.has_error()) break;
        const void *payload = taken.value();
        uint64_t t0;
        memcpy(&t0, payload, sizeof(t0));
        sh->latency_ns[idx][i] = int64_t(conduit::mono_ns() - t0);
        sub.release(payload);
        sh->acked[idx].store(++i, std::memory_order_release);
      }
    }
    return 0;
  };
  auto produce = [&] {
    if (!wait_ready(sh, 1)) return 1;
    std::string rt = "vipcbench_pub_" + std::to_string(getpid());
    iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, rt.c_str()));
    iox::popo::UntypedPublisher pub(service);
    uint64_t end = conduit::mono_ns() + 10'000'000'000ull;
    while (!pub.hasSubscribers()) {
      if (conduit::mono_ns() > end) return 1;
      sleep_us(1000);
    }
    for (int i = 0; i < samples; i++) {
      auto loaned = pub.loan(uint32_t(c.bytes));
      if (loaned.has_error()) {
        printf("SKIP iceoryx cannot loan a %zu byte chunk (error %d): its mempools are too small\n", c.bytes,
               int(loaned.get_error()));
        return 2;
      }
      void *chunk = loaned.value();
      memset(chunk, i, c.bytes);
      settle();
      uint64_t t0 = conduit::mono_ns();
      memcpy(chunk, &t0, sizeof(t0));
      pub.publish(chunk);
      if (!wait_ack(sh, 0, 1, i + 1)) return 1;
    }
    return 0;
  };
  int rc = run_forked(sh, 1, consume, produce);
  if (rc != 0) return rc;
  print_percentiles("iceoryx", c, measured(sh, 0, samples));
  return 0;
}
#endif

}  // namespace

int main(int argc, char **argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "vipc_msgq" && argc == 3) {
    return visionipc_msgq_latency(std::clamp(atoi(argv[2]), kWarmup + 10, kMaxSamples));
  }
  if (mode == "latency" && argc == 5) {
    std::string impl = argv[2];
    Case c = parse_case(argv[3]);
    int samples = std::clamp(atoi(argv[4]), kWarmup + 10, kMaxSamples);
    if (impl == "zmq_ipc") return zmq_latency(c, samples);
    if (impl == "iceoryx") {
#ifdef HAVE_ICEORYX
      return iceoryx_latency(c, samples);
#else
      printf("SKIP iceoryx headers were not found at build time\n");
      return 2;
#endif
    }
  } else if (mode == "producer" && argc == 4) {
    int clients = std::clamp(atoi(argv[2]), 1, kMaxClients);
    return visionipc_producer_cost(clients, std::clamp(atoi(argv[3]), kWarmup + 10, kMaxSamples));
  }
  fprintf(stderr,
          "usage: visionipc_bench vipc_msgq SAMPLES\n"
          "       visionipc_bench latency {zmq_ipc|iceoryx} {4KiB|1MiB|1928x1208} SAMPLES\n"
          "       visionipc_bench producer CLIENTS SAMPLES\n");
  return 2;
}
