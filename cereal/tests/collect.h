#pragma once
// Test helper: receives Events from a msgq socket until a condition holds.
#include <capnp/serialize.h>

#include <chrono>
#include <functional>

#include "cereal/gen/log.capnp.h"
#include "msgq/msgq.h"

namespace testutil {

// Hands every Event received on `sock` to on_event until done() holds (true)
// or timeout_s passes (false).
inline bool collect(msgq::SubSocket &sock, double timeout_s, const std::function<void(cereal::Event::Reader)> &on_event,
                    const std::function<bool()> &done) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  msgq::Message m;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    if (!sock.receive(m, 50)) continue;
    capnp::FlatArrayMessageReader reader(
        kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(m.data()), m.size() / 8));
    on_event(reader.getRoot<cereal::Event>());
  }
  return true;
}

}  // namespace testutil
