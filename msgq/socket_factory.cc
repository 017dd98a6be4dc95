// Chooses the backend behind msgq.h: shared memory, or libzmq when ZMQ=1.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "msgq/shm_socket.h"
#include "msgq/zmq_socket.h"

namespace msgq {

namespace {
std::atomic<int> lockstep_override{-1};  // -1: follow the environment
std::atomic<bool> lockstep_stopped{false};
static_assert(std::atomic<bool>::is_always_lock_free);  // set from signal handlers
}

void stop_lockstep_waits() { lockstep_stopped.store(true, std::memory_order_relaxed); }
bool lockstep_waits_stopped() { return lockstep_stopped.load(std::memory_order_relaxed); }

bool lockstep_default() {
  const int o = lockstep_override.load(std::memory_order_relaxed);
  if (o >= 0) return o != 0;
  const char *v = getenv("CONDUIT_LOCKSTEP");
  return v && *v && strcmp(v, "0") != 0;
}

void set_lockstep_default(bool on) { lockstep_override.store(on ? 1 : 0); }

bool PubSocket::all_readers_updated() const {
  throw Error("msgq topic '" + topic() + "': all_readers_updated() needs the shared-memory backend");
}

bool PubSocket::wait_lockstep(int) {
  throw Error("msgq topic '" + topic() + "': lockstep needs the shared-memory backend");
}

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
