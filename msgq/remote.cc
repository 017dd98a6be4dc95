#include "msgq/remote.h"

#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace msgq {

ZmqLink remote_link(const std::string &topic, const std::string &endpoint, const std::string &key) {
  // The terminating NUL keeps a subscriber of "can" from taking "canErrors".
  ZmqLink link;
  link.endpoint = endpoint;
  link.tag = topic + '\0';  // padded with NULs to whole words
  link.tag.resize((link.tag.size() + 7) / 8 * 8, '\0');
  link.curve_key = key;
  link.remote = true;
  return link;
}

std::string bridge_key() {
  const char *k = getenv("CONDUIT_BRIDGE_KEY");
  if (k == nullptr || *k == '\0') return "";
  char pub[41];
  if (strlen(k) != 40 || zmq_curve_public(pub, k) != 0) {
    throw Error("CONDUIT_BRIDGE_KEY is not a CURVE secret key: expected 40 Z85 characters "
                "(make one with `bridge --keygen`), found " + std::to_string(strlen(k)) + " characters");
  }
  if (!zmq_has("curve")) throw Error("CONDUIT_BRIDGE_KEY is set but this libzmq has no CURVE support");
  return k;
}

std::string curve_public(const std::string &secret) {
  char pub[41];
  if (secret.size() != 40 || zmq_curve_public(pub, secret.c_str()) != 0) {
    throw Error("not a CURVE secret key: expected 40 Z85 characters");
  }
  return pub;
}

ClientKeyGate::ClientKeyGate(const std::vector<std::string> &client_keys) {
  std::vector<std::string> keys;  // binary, as ZAP requests carry them
  for (const std::string &z85 : client_keys) {
    uint8_t key[32];
    if (z85.size() != 40 || zmq_z85_decode(key, z85.c_str()) == nullptr) {
      throw Error("not a CURVE public key: expected 40 Z85 characters, found '" + z85 + "'");
    }
    keys.emplace_back(reinterpret_cast<const char *>(key), 32);
  }
  sock_ = zmq_socket(zmq_context(), ZMQ_REP);
  if (zmq_bind(sock_, "inproc://zeromq.zap.01") != 0) {
    zmq_close(sock_);
    throw Error(std::string("cannot start the CURVE client key check (one per process): ") + zmq_strerror(zmq_errno()));
  }
  thread_ = std::thread(&ClientKeyGate::serve, this, std::move(keys));
}

ClientKeyGate::~ClientKeyGate() {
  stop_ = true;
  thread_.join();
  int linger = 0;
  zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_close(sock_);
}

// A ZAP request is version, request id, domain, address, routing id,
// mechanism, then the credentials (CURVE: the client's 32-byte public key);
// the reply is version, request id, status code, status text, user id, metadata.
void ClientKeyGate::serve(std::vector<std::string> keys) {
  zmq_pollitem_t item = {sock_, 0, ZMQ_POLLIN, 0};
  while (!stop_) {
    if (zmq_poll(&item, 1, 100) <= 0) continue;
    std::vector<std::string> req;
    zmq_msg_t part;
    zmq_msg_init(&part);
    do {
      if (zmq_msg_recv(&part, sock_, 0) < 0) break;
      req.emplace_back(static_cast<const char *>(zmq_msg_data(&part)), zmq_msg_size(&part));
    } while (zmq_msg_more(&part));
    zmq_msg_close(&part);
    const bool ok = req.size() == 7 && req[0] == "1.0" && req[5] == "CURVE" &&
                    std::find(keys.begin(), keys.end(), req[6]) != keys.end();
    if (!ok) refused_.fetch_add(1, std::memory_order_relaxed);
    const std::string reply[] = {"1.0", req.size() > 1 ? req[1] : "", ok ? "200" : "400",
                                 ok ? "OK" : "client key not admitted", "", ""};
    for (size_t i = 0; i < 6; ++i) zmq_send(sock_, reply[i].data(), reply[i].size(), i < 5 ? ZMQ_SNDMORE : 0);
  }
}

namespace {

// One connection attempt watched through its socket monitor.
struct Probe {
  std::unique_ptr<ZmqSubSocket> sock;
  void *events = nullptr;  // PAIR socket receiving the monitor's events
  bool connected = false, done = false;
  ProbeResult result = ProbeResult::kNoAnswer;

  // Takes one event; done once the attempt's outcome is known.
  void take(uint16_t event) {
    switch (event) {
      case ZMQ_EVENT_CONNECTED: connected = true; return;
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: result = ProbeResult::kConnected; break;
      case ZMQ_EVENT_CONNECT_RETRIED: result = connected ? ProbeResult::kHandshakeFailed : ProbeResult::kRefused; break;
      case ZMQ_EVENT_DISCONNECTED:
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: result = ProbeResult::kHandshakeFailed; break;
      default: return;
    }
    done = true;
  }
};

}  // namespace

std::vector<ProbeResult> probe(const std::vector<ZmqLink> &links, int timeout_ms) {
  static std::atomic<uint64_t> counter{0};
  std::vector<Probe> probes(links.size());
  std::vector<zmq_pollitem_t> items;
  for (size_t i = 0; i < links.size(); ++i) {
    ZmqLink link = links[i];
    link.monitor = "inproc://msgq-probe-" + std::to_string(counter++);
    probes[i].sock = std::make_unique<ZmqSubSocket>("probe", SubOptions{}, link);
    probes[i].events = zmq_socket(zmq_context(), ZMQ_PAIR);
    zmq_connect(probes[i].events, link.monitor.c_str());
    items.push_back({probes[i].events, 0, ZMQ_POLLIN, 0});
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (size_t open = probes.size(); open > 0;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || zmq_poll(items.data(), int(items.size()), long(left.count())) < 0) break;
    for (size_t i = 0; i < probes.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      // An event is two frames: 16-bit event id and 32-bit value, then the endpoint.
      zmq_msg_t frame;
      zmq_msg_init(&frame);
      int more = 1, n = 0;
      uint16_t event = 0;
      for (; more && zmq_msg_recv(&frame, probes[i].events, ZMQ_DONTWAIT) >= 0; ++n) {
        if (n == 0 && zmq_msg_size(&frame) >= 2) memcpy(&event, zmq_msg_data(&frame), 2);
        more = zmq_msg_more(&frame);
      }
      zmq_msg_close(&frame);
      if (!probes[i].done && n > 0) {
        probes[i].take(event);
        if (probes[i].done) --open;
      }
    }
  }
  std::vector<ProbeResult> results;
  for (Probe &p : probes) {
    results.push_back(p.result);
    p.sock.reset();
    int linger = 0;
    zmq_setsockopt(p.events, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(p.events);
  }
  return results;
}

}  // namespace msgq
