#pragma once
// A compact JSON view of one Event for the live page: {"service", "logMonoTime",
// "valid", "data": {...}} with numbers, booleans, text and enums, nested
// structs and lists up to a few levels. Data blobs and long lists (model
// tensors, packets) are left out: the page shows status, not payloads.
// Threads: a pure function.
#include <string>

#include "cereal/gen/log.capnp.h"

namespace streamd {

std::string event_json(cereal::Event::Reader event);

}  // namespace streamd
