// Remote links (msgq/remote.h) facing peers that do not play by the rules.
#include <gtest/gtest.h>
#include <zmq.h>

#include <chrono>
#include <string>
#include <thread>

#include "msgq/remote.h"

using namespace msgq;

namespace {

constexpr char kKey[] = "rq:rM>}U?@Lns47E1%kR.o@n5FcmR4QL!i=i/Rp-";

// Binds `sock` to a free loopback tcp port; its endpoint.
std::string bind_free(void *sock) {
  EXPECT_EQ(zmq_bind(sock, "tcp://127.0.0.1:*"), 0);
  char ep[64];
  size_t len = sizeof(ep);
  zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &len);
  return ep;
}

// A free loopback tcp endpoint, for a socket that binds it itself.
std::string free_endpoint() {
  void *s = zmq_socket(zmq_context(), ZMQ_PUB);
  const std::string ep = bind_free(s);
  int linger = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_close(s);
  return ep;
}

void send_frame(void *sock, const std::string &frame, int flags = 0) {
  ASSERT_EQ(zmq_send(sock, frame.data(), frame.size(), flags), int(frame.size()));
}

// The frame a publisher of `link` sends: tag, sequence number, payload.
std::string frame_of(const ZmqLink &link, uint64_t seq, const std::string &payload) {
  return link.tag + std::string(reinterpret_cast<const char *>(&seq), 8) + payload;
}

}  // namespace

// A hostile publisher sends a frame too short to hold the sequence number and a
// multi-part message: both are skipped and counted, the good message after them
// arrives, and receive() never throws.
TEST(MsgqRemote, MalformedFramesAreSkippedAndCounted) {
  void *pub = zmq_socket(zmq_context(), ZMQ_PUB);
  const ZmqLink link = remote_link("hostile", bind_free(pub), "");
  ZmqSubSocket sub("hostile", {}, link);
  Message m;
  for (uint64_t seq = 0; !sub.receive(m, 10); ++seq) send_frame(pub, frame_of(link, seq, "join"));  // slow joiner
  while (sub.receive(m, 50)) {
  }

  send_frame(pub, link.tag + "abc");                                    // no room for a sequence number
  send_frame(pub, frame_of(link, 1000, "first part"), ZMQ_SNDMORE);     // a multi-part message:
  send_frame(pub, "junk");                                              //   both parts are skipped
  send_frame(pub, frame_of(link, 1001, "good"));
  ASSERT_TRUE(sub.receive(m, 1000));
  EXPECT_EQ(std::string(m.data(), m.size()), "good");
  EXPECT_EQ(m.seq(), 1001u);
  EXPECT_EQ(sub.malformed(), 3u);
  EXPECT_FALSE(sub.receive(m, 0));
  int linger = 0;
  zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_close(pub);
}

// A client that knows the server's public key but holds a key of its own is
// refused (CURVE alone would admit it) and counted; a client with the key is served.
TEST(MsgqRemote, ClientKeyGateAdmitsOnlyItsKeys) {
  ClientKeyGate gate({curve_public(kKey)});
  const ZmqLink link = remote_link("gated", free_endpoint(), kKey);
  ZmqPubSocket pub("gated", 4096, link);
  ZmqSubSocket admitted("gated", {}, link);

  char outsider_pub[41], outsider_secret[41];
  ASSERT_EQ(zmq_curve_keypair(outsider_pub, outsider_secret), 0);
  void *outsider = zmq_socket(zmq_context(), ZMQ_SUB);
  const std::string server_pub = curve_public(kKey);
  zmq_setsockopt(outsider, ZMQ_CURVE_SERVERKEY, server_pub.data(), 40);
  zmq_setsockopt(outsider, ZMQ_CURVE_PUBLICKEY, outsider_pub, 40);
  zmq_setsockopt(outsider, ZMQ_CURVE_SECRETKEY, outsider_secret, 40);
  zmq_setsockopt(outsider, ZMQ_SUBSCRIBE, "", 0);
  ASSERT_EQ(zmq_connect(outsider, link.endpoint.c_str()), 0);

  Message m;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gate.refused() == 0 || !admitted.receive(m, 10)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "refused " << gate.refused();
    pub.send("x", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int i = 0; i < 100; ++i) pub.send("after", 5);
  int got = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got < 100 && std::chrono::steady_clock::now() < until)
    if (admitted.receive(m, 200)) got += std::string(m.data(), m.size()) == "after";
  EXPECT_EQ(got, 100);
  char buf[64];
  EXPECT_EQ(zmq_recv(outsider, buf, sizeof(buf), ZMQ_DONTWAIT), -1) << "the outsider got a message";
  EXPECT_GE(gate.refused(), 1u);
  EXPECT_THROW(ClientKeyGate({curve_public(kKey)}), Error);  // one per process
  EXPECT_THROW(ClientKeyGate({"not a key"}), Error);
  int linger = 0;
  zmq_setsockopt(outsider, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_close(outsider);
}
