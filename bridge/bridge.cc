// bridge: relays services between this host's bus and other hosts over libzmq
// tcp, both directions in one process (one bridge per host: it publishes the
// host's bridgeState).
//
//   bridge --publish all --bind 192.0.2.1      this host's services, for other hosts
//   bridge --from 192.0.2.1 --subscribe all    that host's services, onto this bus
//   bridge --from 192.0.2.1=can,carState --from 192.0.2.3=modelV2   from two hosts
//
// Out: one thread reads the local topics and sends every message unchanged,
// with its publisher's sequence number, on the service's port (cereal/remote.h).
// In: one thread receives a peer's messages and publishes them locally as they
// came, so local subscribers cannot tell them from local ones. Sequence gaps
// (the peer's bridge restarted, the link was cut, a queue overflowed, this
// bridge was killed and restarted: stream_position.h) are counted exactly in
// bridgeState, published once a second and relayed out too.
// A peer that vanishes never blocks anything: sends never wait, libzmq
// reconnects when the peer returns.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cereal/messaging.h"
#include "cereal/remote.h"
#include "common/clock.h"
#include "common/command_line.h"
#include "common/realtime.h"
#include "common/stop_signal.h"
#include "common/watchdog.h"
#include "bridge/stream_position.h"
#include "msgq/remote.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

constexpr int kPollMs = 100;

// One service relayed in one direction. The counters are written by the
// relaying thread and read by the one publishing bridgeState.
struct Relay {
  std::string name, peer;
  bool publish;
  std::atomic<uint64_t> messages{0}, bytes{0}, lost{0}, dropped{0}, malformed{0};
  // publish: local -> network
  std::unique_ptr<msgq::SubSocket> local_in;
  std::unique_ptr<msgq::ZmqPubSocket> net_out;
  // subscribe: network -> local
  std::unique_ptr<msgq::ZmqSubSocket> net_in;
  std::unique_ptr<msgq::PubSocket> local_out;
  std::unique_ptr<bridge::StreamPosition> position;
};

// Services named by a comma-separated list, where `all` stands for every
// service except the video packets (*EncodeData, heavy: name them to relay
// them) and bridgeState (each bridge publishes its own).
std::vector<std::string> services_of(const std::string &list) {
  std::vector<std::string> out;
  auto add = [&](const std::string &name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  std::stringstream ss(list);
  for (std::string name; std::getline(ss, name, ',');) {
    if (name == "all") {
      for (const cereal::Service &s : cereal::kServices) {
        if (!s.name.ends_with("EncodeData") && s.name != "bridgeState") add(std::string(s.name));
      }
    } else if (!name.empty()) {
      cereal::service(name);  // throws naming the known services
      if (name == "bridgeState") throw std::invalid_argument("bridgeState is each bridge's own; it cannot be relayed");
      add(name);
    }
  }
  if (out.empty()) throw std::invalid_argument("no services in '" + list + "': expected a comma-separated list or `all`");
  return out;
}

// --trace (bridge/bench/stages.py): for each message a relaying thread
// handles, its service, sequence number and the CLOCK_MONOTONIC times at
// which the thread woke for it, had received it and had sent it on. Kept in
// memory by the thread, written at exit.
struct Stamps {
  const Relay *relay;
  uint64_t seq, woke, got, sent;
};
using Trace = std::vector<Stamps>;

uint64_t stamp(const Trace *trace) { return trace ? conduit::mono_ns() : 0; }

// Which services to take from which host: every --from HOST[=SERVICES], the
// services defaulting to --subscribe's. A service has one publisher on the
// local bus, so one taken from two hosts is refused as ambiguous.
std::vector<std::pair<std::string, std::string>> sources_of(const conduit::CommandLine &cl) {
  std::vector<std::pair<std::string, std::string>> out;  // (service, host)
  for (const std::string &from : cl.values("from")) {
    const size_t eq = from.find('=');
    const std::string host = from.substr(0, eq);
    if (host.empty()) throw std::invalid_argument("--from '" + from + "': expected HOST or HOST=SERVICES");
    for (const std::string &name : services_of(eq == std::string::npos ? cl.str("subscribe") : from.substr(eq + 1))) {
      for (const auto &[taken, other] : out) {
        if (taken == name) {
          throw std::invalid_argument("'" + name + "' would come from both " + other + " and " + host +
                                      ": a service has one publisher on this bus; name it for one host only "
                                      "(--from HOST=SERVICES)");
        }
      }
      out.emplace_back(name, host);
    }
  }
  return out;
}

void relay_out(std::vector<Relay *> relays, Trace *trace) {
  pthread_setname_np(pthread_self(), "bridge out");
  auto poller = msgq::Poller::create();
  for (Relay *r : relays) poller->add(*r->local_in);
  msgq::Message msg;
  while (!g_stop) {
    const std::vector<msgq::SubSocket *> &ready = poller->poll(kPollMs);
    const uint64_t woke = stamp(trace);
    for (msgq::SubSocket *sock : ready) {
      Relay *r = *std::find_if(relays.begin(), relays.end(), [&](Relay *x) { return x->local_in.get() == sock; });
      while (sock->receive(msg, 0)) {
        const uint64_t got = stamp(trace);
        try {
          r->net_out->send(msg.data(), msg.size(), msg.seq());
          if (trace) trace->push_back({r, msg.seq(), woke, got, stamp(trace)});
          r->messages.fetch_add(1, std::memory_order_relaxed);
          r->bytes.fetch_add(msg.size(), std::memory_order_relaxed);
        } catch (const msgq::Error &e) {
          r->dropped.fetch_add(1, std::memory_order_relaxed);
        }
      }
      r->lost.store(sock->lost(), std::memory_order_relaxed);
    }
  }
}

void relay_in(std::vector<Relay *> relays, Trace *trace) {
  pthread_setname_np(pthread_self(), "bridge in");
  std::vector<zmq_pollitem_t> items;
  for (Relay *r : relays) items.push_back({r->net_in->zmq_socket(), 0, ZMQ_POLLIN, 0});
  msgq::Message msg;
  while (!g_stop) {
    if (zmq_poll(items.data(), int(items.size()), kPollMs) <= 0) continue;
    const uint64_t woke = stamp(trace);
    for (size_t i = 0; i < relays.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      Relay *r = relays[i];
      for (;;) {
        try {
          if (!r->net_in->receive(msg, 0)) break;
          const uint64_t got = stamp(trace);
          r->local_out->send(msg.data(), msg.size());
          r->position->store(msg.seq() + 1);
          if (trace) trace->push_back({r, msg.seq(), woke, got, stamp(trace)});
          r->messages.fetch_add(1, std::memory_order_relaxed);
          r->bytes.fetch_add(msg.size(), std::memory_order_relaxed);
        } catch (const msgq::Error &e) {  // too large for the local ring
          r->dropped.fetch_add(1, std::memory_order_relaxed);
        }
      }
      r->lost.store(r->net_in->lost(), std::memory_order_relaxed);
      r->malformed.store(r->net_in->malformed(), std::memory_order_relaxed);
    }
  }
}

void publish_state(cereal::PubMaster &pm, const std::vector<std::unique_ptr<Relay>> &relays,
                   const msgq::ClientKeyGate *gate) {
  cereal::MessageBuilder msg;
  auto state = msg.initEvent().initBridgeState();
  if (gate) state.setRefusedClients(gate->refused());
  auto list = state.initServices(unsigned(relays.size()));
  for (unsigned i = 0; i < relays.size(); ++i) {
    const Relay &r = *relays[i];
    auto s = list[i];
    s.setName(r.name);
    s.setDirection(r.publish ? cereal::BridgeState::Direction::PUBLISH : cereal::BridgeState::Direction::SUBSCRIBE);
    s.setPeer(r.peer);
    s.setMessages(r.messages.load(std::memory_order_relaxed));
    s.setBytes(r.bytes.load(std::memory_order_relaxed));
    s.setLost(r.lost.load(std::memory_order_relaxed));
    s.setDropped(r.dropped.load(std::memory_order_relaxed) + r.malformed.load(std::memory_order_relaxed));
  }
  pm.send("bridgeState", msg);
}

void write_trace(const std::string &path, const Trace &out, const Trace &in) {
  FILE *f = fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  for (const auto &[dir, trace] : {std::pair{"out", &out}, std::pair{"in", &in}}) {
    for (const Stamps &s : *trace) {
      fprintf(f, "%s %s %llu %llu %llu %llu\n", dir, s.relay->name.c_str(), (unsigned long long)s.seq,
              (unsigned long long)s.woke, (unsigned long long)s.got, (unsigned long long)s.sent);
    }
  }
  fclose(f);
}

// SCHED_FIFO at `priority` and a pin to CPU `cpu`, set before any thread starts:
// they inherit both, the relays and libzmq's I/O threads alike. Pinned, a
// wake-up between its threads preempts on that CPU at once; unpinned, the
// scheduler sends a woken real-time thread to the other CPU, and waking that
// costs more.
void set_scheduling(int priority, int cpu) {
  if (cpu >= 0) {
    if (std::string err = conduit::pin_to_cpu(cpu); !err.empty()) {
      throw std::runtime_error("--cpu " + std::to_string(cpu) + ": cannot run there (" + err + ")");
    }
  }
  if (priority > 0) {
    if (std::string err = conduit::set_realtime_priority(priority); !err.empty()) {
      throw std::runtime_error("--rt " + std::to_string(priority) + ": cannot run SCHED_FIFO (" + err +
                               "): needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO of at least that");
    }
  }
}

int run(const conduit::CommandLine &cl) {
  set_scheduling(int(cl.integer("rt", 0, 99)), int(cl.integer("cpu", -1, CPU_SETSIZE - 1)));
  const std::string key = msgq::bridge_key();
  const std::string bind = cl.str("bind");
  std::vector<std::string> out = cl.str("publish").empty() ? std::vector<std::string>{} : services_of(cl.str("publish"));
  const std::vector<std::pair<std::string, std::string>> in = sources_of(cl);
  if (in.empty() && cl.on("subscribe")) throw std::invalid_argument("--subscribe needs --from HOST");
  if (out.empty() && in.empty()) throw std::invalid_argument("nothing to relay: give --publish SERVICES and/or --from HOST");
  for (const auto &[name, host] : in) {
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      throw std::invalid_argument("'" + name + "' is both published and subscribed: it would loop between the hosts");
    }
  }
  if (!out.empty()) out.push_back("bridgeState");  // lets remote subscribers find this bridge

  cereal::PubMaster pm({"bridgeState"});  // throws if another bridge runs on this bus
  // With a key, only clients holding it are served: CURVE alone would admit
  // anyone who learned this bridge's public key.
  std::unique_ptr<msgq::ClientKeyGate> gate;
  if (!key.empty() && !out.empty()) gate = std::make_unique<msgq::ClientKeyGate>(std::vector{msgq::curve_public(key)});
  std::vector<std::unique_ptr<Relay>> relays;
  std::vector<Relay *> outs, ins;
  for (const std::string &name : out) {
    auto r = std::make_unique<Relay>();
    r->name = name, r->publish = true, r->peer = cereal::bridge_endpoint(bind, name);
    const size_t ring = cereal::service(name).ring_size;
    r->local_in = msgq::SubSocket::create(name, {.ring_size = ring});
    r->net_out = std::make_unique<msgq::ZmqPubSocket>(name, ring, msgq::remote_link(name, r->peer, key));
    outs.push_back(r.get());
    relays.push_back(std::move(r));
  }
  for (const auto &[name, host] : in) {
    auto r = std::make_unique<Relay>();
    r->name = name, r->publish = false, r->peer = cereal::bridge_endpoint(host, name);
    const size_t ring = cereal::service(name).ring_size;
    r->net_in = std::make_unique<msgq::ZmqSubSocket>(name, msgq::SubOptions{.ring_size = ring},
                                                     msgq::remote_link(name, r->peer, key));
    r->local_out = msgq::PubSocket::create(name, ring);
    r->position = std::make_unique<bridge::StreamPosition>(name, r->peer);
    if (r->position->resumed()) r->net_in->resume_from(*r->position->resumed());
    ins.push_back(r.get());
    relays.push_back(std::move(r));
  }
  std::string hosts;
  for (const std::string &from : cl.values("from")) hosts += (hosts.empty() ? "" : ",") + from.substr(0, from.find('='));
  fprintf(stderr, "bridge: publishing %zu services on %s (ports from %d), subscribing to %zu from %s%s\n", outs.size(),
          bind.c_str(), cereal::bridge_base_port(), ins.size(), hosts.empty() ? "-" : hosts.c_str(),
          key.empty() ? "" : ", CURVE");

  const bool tracing = !cl.str("trace").empty();
  Trace out_trace, in_trace;
  if (tracing) out_trace.reserve(1 << 20), in_trace.reserve(1 << 20);
  std::vector<std::thread> threads;
  if (!outs.empty()) threads.emplace_back(relay_out, outs, tracing ? &out_trace : nullptr);
  if (!ins.empty()) threads.emplace_back(relay_in, ins, tracing ? &in_trace : nullptr);
  auto next = std::chrono::steady_clock::now();
  while (!g_stop) {
    conduit::watchdog_kick();
    if (std::chrono::steady_clock::now() >= next) {
      publish_state(pm, relays, gate.get());
      next += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
  for (std::thread &t : threads) t.join();
  publish_state(pm, relays, gate.get());
  for (Relay *r : ins) r->position->remove();
  if (tracing) write_trace(cl.str("trace"), out_trace, in_trace);
  for (const auto &r : relays) {
    fprintf(stderr, "bridge: %s %s: %llu messages, %llu lost, %llu dropped\n", r->publish ? "out" : "in",
            r->name.c_str(), (unsigned long long)r->messages.load(), (unsigned long long)r->lost.load(),
            (unsigned long long)(r->dropped.load() + r->malformed.load()));
  }
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  conduit::CommandLine cl("bridge",
                          "Relays services between this host's bus and other hosts over libzmq tcp, byte for byte.\n"
                          "--publish serves local services on one port each (cereal/remote.h: base 8023, or from\n"
                          "CONDUIT_PREFIX, or $CONDUIT_BRIDGE_PORT); --from HOST republishes that host's services\n"
                          "here (from several hosts: --from HOST=SERVICES for each; no service from two).\n"
                          "SERVICES: a comma-separated list, or `all` (every service but the *EncodeData video\n"
                          "packets, which must be named). With CONDUIT_BRIDGE_KEY (`bridge --keygen`) set on both\n"
                          "hosts the traffic is CURVE-encrypted and peers without the key get nothing.\n"
                          "Counts what it relays, and what was lost on the way, in bridgeState.");
  cl.option("publish", "SERVICES", "", "local services to serve to other hosts");
  cl.option("bind", "ADDR", "127.0.0.1", "address to serve on (another host needs a non-loopback one)");
  cl.repeated("from", "HOST[=SERVICES]", "host whose bridge to subscribe to, and what to take from it");
  cl.option("subscribe", "SERVICES", "all", "services to take from a --from HOST that names none");
  cl.option("rt", "PRIORITY", "0", "run SCHED_FIFO at this priority (1-99; 0: the default scheduler)");
  cl.option("cpu", "N", "-1", "run on CPU N only (-1: any); with --rt, what makes it fast");
  cl.option("trace", "FILE", "", "write when each message was woken for, received and sent on (for bridge/bench)");
  cl.flag("keygen", "print a new CONDUIT_BRIDGE_KEY and exit");
  try {
    if (!cl.parse(argc, argv)) {
      printf("%s", cl.help().c_str());
      return 0;
    }
    if (cl.on("keygen")) {
      char pub[41], secret[41];
      if (zmq_curve_keypair(pub, secret) != 0) throw std::runtime_error("this libzmq has no CURVE support");
      printf("%s\n", secret);
      return 0;
    }
    conduit::on_stop_signal(on_signal);
    return run(cl);
  } catch (const std::exception &e) {
    fprintf(stderr, "bridge: %s\n", e.what());
    return 1;
  }
}
