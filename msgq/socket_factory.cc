// Chooses the backend behind msgq.h: shared memory, or libzmq when ZMQ=1.
#include <cstdlib>
#include <cstring>

#include "msgq/shm_socket.h"
#include "msgq/zmq_socket.h"

namespace msgq {

bool zmq_backend() {
  const char *z = getenv("ZMQ");
  return z && *z && strcmp(z, "0") != 0;
}

std::unique_ptr<PubSocket> PubSocket::create(const std::string &topic, size_t ring_size, bool local) {
  if (!local && zmq_backend()) return std::make_unique<ZmqPubSocket>(topic, ring_size);
  return std::make_unique<ShmPubSocket>(topic, ring_size);
}

std::unique_ptr<SubSocket> SubSocket::create(const std::string &topic, SubOptions opts) {
  if (!opts.local && zmq_backend()) return std::make_unique<ZmqSubSocket>(topic, opts);
  return std::make_unique<ShmSubSocket>(topic, opts);
}

std::unique_ptr<Poller> Poller::create(bool local) {
  if (!local && zmq_backend()) return std::make_unique<ZmqPoller>();
  return std::make_unique<ShmPoller>();
}

}  // namespace msgq
