#pragma once
// The transports the msgq benchmark compares. Each factory builds this
// process's side of one transport; see transport.h for the contract.
#include "msgq/bench/transport.h"

namespace msgq_bench {

// conduit msgq, shared-memory backend.
std::unique_ptr<Transport> make_msgq(const TransportConfig &cfg);
// The same, zero copy: loans in the ring, views read in place.
std::unique_ptr<Transport> make_msgq_loan(const TransportConfig &cfg);
// libzmq PUB/SUB over ipc:// (unix socket) or tcp://127.0.0.1.
std::unique_ptr<Transport> make_zmq_ipc(const TransportConfig &cfg);
std::unique_ptr<Transport> make_zmq_tcp(const TransportConfig &cfg);
// A raw futex mailbox in shared memory: the floor for a cross-process wake-up.
std::unique_ptr<Transport> make_futex_floor(const TransportConfig &cfg);
// iceoryx 2.x (RouDi must be running): loaned chunks, WaitSet for blocking.
std::unique_ptr<Transport> make_iceoryx(const TransportConfig &cfg);

}  // namespace msgq_bench
