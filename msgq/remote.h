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
#include <string>
#include <vector>

#include "msgq/zmq_socket.h"

namespace msgq {

// A remote link of `topic` at `endpoint`; key: Z85 CURVE secret, or "" for plaintext.
ZmqLink remote_link(const std::string &topic, const std::string &endpoint, const std::string &key);

// The shared secret of this host's bridges and remote subscribers:
// $CONDUIT_BRIDGE_KEY (40 Z85 characters, `bridge --keygen` makes one), "" when unset.
std::string bridge_key();

enum class ProbeResult {
  kConnected,     // a peer completed the handshake
  kRefused,       // nothing listens at the endpoint
  kHandshakeFailed,  // something listens but the handshake failed: another key, or none
  kNoAnswer,      // nothing answered in time (host down or unreachable)
};
// Connects to every link's endpoint at once and reports each within timeout_ms.
std::vector<ProbeResult> probe(const std::vector<ZmqLink> &links, int timeout_ms);

}  // namespace msgq
