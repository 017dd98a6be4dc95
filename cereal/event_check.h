#pragma once
// Whether serialized bytes are an Event that every reader can read in full.
//
// Cap'n Proto checks a message lazily: a bad pointer deep inside throws
// kj::Exception only when someone reads it, which may be a consumer long after
// the message was received or logged. event_problem() reads, once and up front,
// everything cereal/log.capnp's schema reaches from the root (every pointer
// field; only the active member of each union), with capnp's own checks. A
// message it accepts never throws when read through the schema; one it refuses
// is dropped or skipped whole, by its framing.
//
// This is where validation happens: SubMaster before it hands a message out,
// loggerd before it logs one, and the log readers per event (README, Reliability).
// Cost: one step per pointer; the usual shape (one segment, pointers of the
// kinds the schema names) is walked over the raw words, anything else by
// capnp's reader. Primitives are not visited. Reading a message in full may
// cost at most event_reader_options()' traversal limit, which grows with the
// message's size: a small one never costs a reader more than a little.
// Threads: any. Errors: none thrown; the reason is returned.
#include <optional>
#include <string>

#include <capnp/common.h>
#include <capnp/message.h>
#include <kj/common.h>

#include "cereal/gen/log.capnp.h"

namespace cereal {

// Empty when `words` (flat framing: segment table, then segments) holds a
// readable Event, whose union member is then stored in *which (if given);
// otherwise what is wrong, for a log line.
std::optional<std::string> event_problem(kj::ArrayPtr<const capnp::word> words, Event::Which *which = nullptr);

// The capnp reader options of that check for a message of `words`: twice its
// size as the traversal limit (capnp's default of 8 Mi words at most). A
// message built by capnp costs its size to read in full; one whose pointers
// share targets or whose lists claim zero-sized elements costs more, up to the
// default limit, e.g. 123 ms of every subscriber's time for 200 bytes.
capnp::ReaderOptions event_reader_options(size_t words);

// Its two halves, for tests and fuzzing: the walk over raw words that takes
// the usual shape (true only if capnp agrees; false means "ask capnp"), and
// capnp's own reader through the schema (the reference).
bool event_readable_fast(kj::ArrayPtr<const capnp::word> words);
bool event_readable_by_capnp(kj::ArrayPtr<const capnp::word> words);

}  // namespace cereal
