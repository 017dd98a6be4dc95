#pragma once
// The bus across machines: a topic that a bridge (bridge/bridge.cc) publishes
// on a tcp port, and its subscribers on other hosts. The frames are those of
// msgq's zmq backend (msgq/zmq_socket.h) tagged with the topic, so a peer that
// serves another topic on that port delivers nothing; with a key, libzmq CURVE
// encrypts them and a peer holding another key gets no connection at all.
//
//   auto link = msgq::remote_link("can", "tcp://192.0.2.1:8043", msgq::bridge_key());
//   msgq::ZmqPubSocket out("can", ring_size, link);   // on the bridge
//   msgq::ZmqSubSocket in("can", {}, link);           // on another host
//
// Subscribers connect in the background and reconnect whenever the peer comes
// back; probe() tells whether anything answers right now.
// Errors: msgq::Error for a malformed key; probe() reports, it does not throw.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "msgq/zmq_socket.h"

namespace msgq {

// A remote link of `topic` at `endpoint`; key: Z85 CURVE secret, or "" for plaintext.
ZmqLink remote_link(const std::string &topic, const std::string &endpoint, const std::string &key);

// The shared secret of this host's bridges and remote subscribers:
// $CONDUIT_BRIDGE_KEY (40 Z85 characters, `bridge --keygen` makes one), "" when unset.
std::string bridge_key();

// Admits to this process's CURVE servers (the publishers of remote links)
// only clients whose public key is one of `client_keys` (Z85, 40 characters):
// a ZAP handler (libzmq RFC 27) on a thread of its own. Without one libzmq
// admits any client that knows the server's public key. One per process;
// from construction to destruction every CURVE handshake asks it.
// Errors: msgq::Error for a malformed key or a second gate in the process.
class ClientKeyGate {
 public:
  explicit ClientKeyGate(const std::vector<std::string> &client_keys);
  ~ClientKeyGate();
  ClientKeyGate(const ClientKeyGate &) = delete;
  ClientKeyGate &operator=(const ClientKeyGate &) = delete;
  // Handshakes refused so far (any thread).
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  void serve(std::vector<std::string> keys);
  void *sock_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

// The public key of a CURVE secret (Z85), as the bridges derive theirs.
std::string curve_public(const std::string &secret);

enum class ProbeResult {
  kConnected,     // a peer completed the handshake
  kRefused,       // nothing listens at the endpoint
  kHandshakeFailed,  // something listens but the handshake failed: another key, or none
  kNoAnswer,      // nothing answered in time (host down or unreachable)
};
// Connects to every link's endpoint at once and reports each within timeout_ms.
std::vector<ProbeResult> probe(const std::vector<ZmqLink> &links, int timeout_ms);

}  // namespace msgq
