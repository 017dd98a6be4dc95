// The C++ side of cereal/bench/messaging.py: publishers and subscribers of one
// small `can` Event on topic "can", timed from the first to the last message.
//
//   cereal_bench pub KIND SECONDS [ENDPOINT]    sends flat out, then prints "<sent> <ns> <cpu ns>"
//     raw      msgq PubSocket, the serialized message's bytes
//     master   PubMaster::send of the same bytes
//     build    MessageBuilder + PubMaster::send, building every message
//     zmq      libzmq PUB bound at ENDPOINT, the same bytes
//   cereal_bench fill KIND COUNT                 sends COUNT messages as pub does, then prints the same
//   cereal_bench sub raw|master IDLE_MS [gated]  prints "ready", then after IDLE_MS without a
//                                                message: "<count> <ns first..last> <lost> <cpu ns>".
//                                                gated: reads only once a line arrives on stdin (a
//                                                backlog that fill wrote meanwhile)
//   cereal_bench handoff SECONDS                 one cache line passed back and forth between two
//                                                threads: "<handoffs> <ns>", the floor under a
//                                                subscriber that keeps up with its publisher
#include <time.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cereal/messaging.h"
#include "common/clock.h"

namespace {

constexpr char kTopic[] = "can";

uint64_t cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// The benchmark's small message: one CAN frame with 8 data bytes (96 bytes serialized).
void fill(cereal::MessageBuilder &msg, uint32_t i) {
  auto frame = msg.initEvent().initCan(1)[0];  // as the Python row: frame = msg.can[0]
  frame.setAddress(0x123 + (i & 0xff));
  frame.setBusTime(uint16_t(i));
  frame.setSrc(1);
  uint8_t dat[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  frame.setDat(kj::arrayPtr(dat, sizeof(dat)));
}

std::vector<uint64_t> small_message() {
  cereal::MessageBuilder msg;
  fill(msg, 0);
  std::vector<uint64_t> out;
  out.resize(cereal::serialize(msg, out) / 8);
  return out;
}

// What a publisher sends: flat out for `seconds`, or `count` messages.
struct Run {
  double seconds;
  uint64_t count;
};

// Calls send_one(i) flat out for the run; prints "<sent> <ns> <cpu ns>".
template <class SendOne>
void send_for(Run run, SendOne send_one) {
  const uint64_t start = conduit::mono_ns(), end = start + uint64_t(run.seconds * 1e9), cpu_start = cpu_ns();
  uint64_t sent = 0, now = start;
  while (now < end && sent < run.count) {
    for (uint64_t batch = std::min<uint64_t>(64, run.count - sent); batch > 0; --batch, ++sent) send_one(uint32_t(sent));
    now = conduit::mono_ns();
  }
  const uint64_t cpu = cpu_ns() - cpu_start;
  printf("%llu %llu %llu\n", (unsigned long long)sent, (unsigned long long)(now - start), (unsigned long long)cpu);
}

int pub(const std::string &kind, Run run, const char *endpoint) {
  const auto bytes = small_message();
  const size_t size = bytes.size() * sizeof(bytes[0]);
  if (kind == "raw") {
    auto sock = msgq::PubSocket::create(kTopic, cereal::service(kTopic).ring_size);
    send_for(run, [&](uint32_t) { sock->send(bytes.data(), size); });
  } else if (kind == "master") {
    cereal::PubMaster pm({kTopic});
    send_for(run, [&](uint32_t) { pm.send(kTopic, bytes.data(), size); });
  } else if (kind == "build") {
    cereal::PubMaster pm({kTopic});
    send_for(run, [&](uint32_t i) {
      cereal::MessageBuilder msg;
      fill(msg, i);
      pm.send(kTopic, msg);
    });
  } else if (kind == "zmq" && endpoint != nullptr) {
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_PUB);
    if (zmq_bind(sock, endpoint) != 0) {
      fprintf(stderr, "cereal_bench: zmq_bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
      return 1;
    }
    send_for(run, [&](uint32_t) { zmq_send(sock, bytes.data(), size, 0); });
    zmq_close(sock);
    zmq_ctx_term(ctx);
  } else {
    return 2;
  }
  return 0;
}

// Waits for a line on stdin when gated (the backlog is written); false on EOF.
bool open_gate(bool gated) {
  char line[16];
  return !gated || fgets(line, sizeof(line), stdin) != nullptr;
}

int sub(const std::string &kind, int idle_ms, bool gated) {
  uint64_t count = 0, first = 0, last = 0, lost = 0, cpu_first = 0, cpu_last = 0;
  if (kind == "raw") {
    msgq::SubOptions opts;
    opts.ring_size = cereal::service(kTopic).ring_size;
    auto sock = msgq::SubSocket::create(kTopic, opts);
    // Waits as SubMaster does, looking before it sleeps, so the two
    // subscribers differ only in what cereal adds.
    auto poller = msgq::Poller::create();
    poller->add(*sock);
    msgq::Message msg;
    printf("ready\n");
    fflush(stdout);
    if (!open_gate(gated)) return 1;
    while (sock->receive(msg, 0) ||
           (!poller->spin_then_poll(count == 0 ? 30000 : idle_ms, cereal::SubMaster::kLookBeforeSleepNs).empty() && sock->receive(msg, 0))) {
      last = conduit::mono_ns();
      if (count++ == 0) first = last, cpu_first = cpu_ns();
    }
    cpu_last = cpu_ns();  // sleeping through the idle wait costs no CPU
    lost = sock->lost();
  } else if (kind == "master") {
    cereal::SubMaster sm({kTopic});
    printf("ready\n");
    fflush(stdout);
    if (!open_gate(gated)) return 1;
    while (true) {
      sm.update(count == 0 ? 30000 : idle_ms);
      if (!sm.updated(kTopic)) break;
      last = sm.rcv_time(kTopic);  // read off the clock by update(), as the raw loop reads it
      if (count++ == 0) first = last, cpu_first = cpu_ns();
    }
    cpu_last = cpu_ns();
    lost = sm.lost(kTopic);
  } else {
    return 2;
  }
  printf("%llu %llu %llu %llu\n", (unsigned long long)count, (unsigned long long)(last - first),
         (unsigned long long)lost, (unsigned long long)(cpu_last - cpu_first));
  return 0;
}

// Each handoff is one cache line moving to the other core: what a subscriber
// that has caught up pays per message at least, to see the publisher's store.
int handoff(double seconds) {
  struct alignas(64) Line {
    std::atomic<uint64_t> turn{0};
  };
  static Line line;
  constexpr uint64_t kStop = ~uint64_t(0);
  std::thread other([] {
    for (uint64_t seen = 1;; seen += 2) {
      uint64_t v;
      while ((v = line.turn.load(std::memory_order_acquire)) != seen && v != kStop) {
      }
      if (v == kStop) return;
      line.turn.store(seen + 1, std::memory_order_release);
    }
  });
  const uint64_t start = conduit::mono_ns(), end = start + uint64_t(seconds * 1e9);
  uint64_t n = 0, now = start;
  while (now < end) {
    for (int i = 0; i < 1024; ++i, n += 2) {
      line.turn.store(n + 1, std::memory_order_release);
      while (line.turn.load(std::memory_order_acquire) != n + 2) {
      }
    }
    now = conduit::mono_ns();
  }
  line.turn.store(kStop, std::memory_order_release);
  other.join();
  printf("%llu %llu\n", (unsigned long long)n, (unsigned long long)(now - start));
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "pub") == 0) return pub(argv[2], {atof(argv[3]), UINT64_MAX}, argc >= 5 ? argv[4] : nullptr);
  if (argc >= 4 && strcmp(argv[1], "fill") == 0) return pub(argv[2], {1e9, strtoull(argv[3], nullptr, 10)}, nullptr);
  if (argc >= 4 && strcmp(argv[1], "sub") == 0) return sub(argv[2], atoi(argv[3]), argc >= 5 && strcmp(argv[4], "gated") == 0);
  if (argc >= 3 && strcmp(argv[1], "handoff") == 0) return handoff(atof(argv[2]));
  fprintf(stderr,
          "usage: cereal_bench pub raw|master|build|zmq SECONDS [ENDPOINT] | cereal_bench fill raw|master|build COUNT | "
          "cereal_bench sub raw|master IDLE_MS [gated] | cereal_bench handoff SECONDS\n");
  return 2;
}
