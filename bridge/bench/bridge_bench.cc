// Sender and receiver for bridge/bench/bridge.py: raw libzmq PUB/SUB over tcp
// (zmq:ENDPOINT, the floor) or this host's msgq bus (msgq:TOPIC, the bridge path
// msgq -> bridge -> network -> bridge -> msgq). Each message carries its send
// time (CLOCK_MONOTONIC ns, one clock for both network namespaces) at a fixed
// offset: the first 8 bytes of a raw payload, an Event's logMonoTime (--event).
//
//   bridge_bench send zmq:tcp://192.0.2.1:9100 --size 64 --count 1000 --rate 500
//   bridge_bench recv msgq:testMessage --event
//
// The sender sends warm-up messages (time 0) every 10 ms until a line arrives on
// stdin, then the measured ones. The receiver prints "ready" at its first
// message and, 1 s after the measured messages stop, one line:
//   received N p50_us X p99_us Y msgs_per_s Z
// (msgs_per_s: the N messages over the time from the first one's sending to
// the last one's arrival: what got through, lost ones not counted)
// With --trace FILE it also writes each measured message's msgq sequence
// number (0 on zmq), send time and receive time, one line each.
#include <poll.h>
#include <zmq.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cereal/messaging.h"
#include "common/clock.h"
#include "msgq/msgq.h"

namespace {

// Where an Event's logMonoTime is in its bytes: the root struct's first data
// word, for a one-segment message as every publisher here writes them.
size_t stamp_offset(const char *data, size_t size, bool event) {
  if (!event) return 0;
  uint32_t root;
  memcpy(&root, data + 8, 4);
  size_t off = 8 * (2 + (root >> 2));
  if (off + 8 > size) throw std::runtime_error("not a one-segment Event");
  return off;
}

struct Endpoint {
  void *ctx = nullptr, *zsock = nullptr;
  std::unique_ptr<msgq::PubSocket> pub;
  std::unique_ptr<msgq::SubSocket> sub;

  Endpoint(const std::string &spec, bool send) {
    const std::string where = spec.substr(spec.find(':') + 1);
    if (spec.starts_with("zmq:")) {
      ctx = zmq_ctx_new();
      zsock = zmq_socket(ctx, send ? ZMQ_PUB : ZMQ_SUB);
      int hwm = 0;
      zmq_setsockopt(zsock, send ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm, sizeof(hwm));
      if (send) {
        if (zmq_bind(zsock, where.c_str()) != 0) throw std::runtime_error("cannot bind " + where);
      } else {
        zmq_setsockopt(zsock, ZMQ_SUBSCRIBE, "", 0);
        zmq_connect(zsock, where.c_str());
      }
    } else if (spec.starts_with("msgq:")) {
      size_t ring = cereal::service(where).ring_size;
      if (send) pub = msgq::PubSocket::create(where, ring);
      else sub = msgq::SubSocket::create(where, {.ring_size = ring});
    } else {
      throw std::invalid_argument("expected zmq:ENDPOINT or msgq:TOPIC, found " + spec);
    }
  }

  void send(const std::string &m) {
    if (pub) pub->send(m.data(), m.size());
    else zmq_send(zsock, m.data(), m.size(), 0);
  }

  // The next message into `out` (its msgq sequence number into seq); false after timeout_ms without one.
  bool receive(std::string &out, uint64_t &seq, int timeout_ms) {
    if (sub) {
      msgq::Message m;
      if (!sub->receive(m, timeout_ms)) return false;
      out.assign(m.data(), m.size());
      seq = m.seq();
      return true;
    }
    zmq_pollitem_t item = {zsock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0) return false;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, zsock, 0);
    out.assign(static_cast<const char *>(zmq_msg_data(&m)), zmq_msg_size(&m));
    zmq_msg_close(&m);
    return true;
  }
};

// Payloads: --size N random bytes, or --packets FILE (uint32 length, bytes; repeated).
std::vector<std::string> payloads(const std::string &packets, size_t size) {
  std::vector<std::string> out;
  if (packets.empty()) {
    std::mt19937_64 rng(1);
    std::string p(std::max<size_t>(size, 8), '\0');
    for (char &c : p) c = char(rng());
    out.push_back(p);
    return out;
  }
  std::ifstream f(packets, std::ios::binary);
  for (uint32_t n; f.read(reinterpret_cast<char *>(&n), 4);) {
    std::string p(n, '\0');
    f.read(p.data(), n);
    out.push_back(p);
  }
  if (out.empty()) throw std::runtime_error("no packets in " + packets);
  return out;
}

void stamp(std::string &m, bool event, uint64_t t) { memcpy(m.data() + stamp_offset(m.data(), m.size(), event), &t, 8); }

bool stdin_has_line() {
  pollfd p = {0, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

int send_main(Endpoint &ep, std::vector<std::string> msgs, bool event, long count, double rate) {
  while (!stdin_has_line()) {
    stamp(msgs[0], event, 0);
    ep.send(msgs[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const uint64_t start = conduit::mono_ns();
  for (long i = 0; i < count; ++i) {
    if (rate > 0) {
      const uint64_t due = start + uint64_t(i * 1e9 / rate);
      while (conduit::mono_ns() < due) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    std::string &m = msgs[size_t(i) % msgs.size()];
    stamp(m, event, conduit::mono_ns());
    ep.send(m);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let libzmq flush
  return 0;
}

int recv_main(Endpoint &ep, bool event, const std::string &trace) {
  std::string m;
  std::vector<uint64_t> lat;
  std::vector<std::array<uint64_t, 3>> stamps;
  uint64_t first = 0, last = 0, seq = 0;
  bool ready = false;
  while (ep.receive(m, seq, lat.empty() ? 60000 : 1000)) {
    uint64_t now = conduit::mono_ns(), t;
    memcpy(&t, m.data() + stamp_offset(m.data(), m.size(), event), 8);
    if (!ready) printf("ready\n"), fflush(stdout), ready = true;
    if (t == 0) continue;
    if (lat.empty()) first = t;
    last = now;
    lat.push_back(now - t);
    if (!trace.empty()) stamps.push_back({seq, t, now});
  }
  if (!trace.empty()) {
    FILE *f = fopen(trace.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + trace);
    for (const auto &s : stamps) fprintf(f, "%llu %llu %llu\n", (unsigned long long)s[0], (unsigned long long)s[1],
                                         (unsigned long long)s[2]);
    fclose(f);
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, size_t(q * lat.size()))] / 1e3; };
  double rate = last > first ? lat.size() / ((last - first) / 1e9) : 0.0;
  printf("received %zu p50_us %.2f p99_us %.2f msgs_per_s %.1f\n", lat.size(), pct(0.5), pct(0.99), rate);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  try {
    if (argc < 3) throw std::invalid_argument("usage: bridge_bench send|recv ENDPOINT [--event] [--size N] "
                                              "[--packets FILE] [--count N] [--rate HZ] [--trace FILE]");
    std::string mode = argv[1], packets, trace;
    bool event = false;
    size_t size = 64;
    long count = 1000;
    double rate = 0;
    for (int i = 3; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--event") event = true;
      else if (a == "--size" && i + 1 < argc) size = std::stoul(argv[++i]);
      else if (a == "--packets" && i + 1 < argc) packets = argv[++i];
      else if (a == "--count" && i + 1 < argc) count = std::stol(argv[++i]);
      else if (a == "--rate" && i + 1 < argc) rate = std::stod(argv[++i]);
      else if (a == "--trace" && i + 1 < argc) trace = argv[++i];
      else throw std::invalid_argument("unknown argument " + a);
    }
    Endpoint ep(argv[2], mode == "send");
    return mode == "send" ? send_main(ep, payloads(packets, size), event, count, rate) : recv_main(ep, event, trace);
  } catch (const std::exception &e) {
    fprintf(stderr, "bridge_bench: %s\n", e.what());
    return 1;
  }
}
