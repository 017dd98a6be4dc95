#pragma once
// Events as JSON for Foxglove and MCAP: one convention, one source of truth for
// the exporter (mcap_export) and the live server (tools/foxglove).
//
// An Event of service S becomes {"logMonoTime", "valid", S: body}, the same
// keys and values as the Python binding's Event.to_dict(), except where JSON
// cannot hold the value:
//   Int64/UInt64 -> decimal string ("1000000000001"): JSON numbers are read as
//                   doubles by most readers (Foxglove, JavaScript), which lose
//                   integers above 2^53; the string keeps every bit;
//   Float32/64   -> number, the shortest decimal that reads back to the same
//                   value of its own width; NaN, Infinity, -Infinity as strings;
//   Data         -> base64 string (what Foxglove decodes for contentEncoding base64);
//   Text         -> string (invalid UTF-8 replaced by U+FFFD, as to_dict does);
//   enum         -> enumerant name (its number if the schema does not know it);
//   Void         -> null; unions: only the active member, as to_dict.
// event_schema(S) is the JSON Schema (draft-07) of exactly those documents,
// generated from the compiled cereal/log.capnp: every struct, list, enum and
// union member. Errors: std::invalid_argument for a name that is not a service.
// Pure functions; any thread.
#include <cstdint>
#include <string>
#include <string_view>

#include <capnp/dynamic.h>

#include "cereal/gen/log.capnp.h"

namespace foxglove {

// Appends the JSON of `value` (of schema type `type`) to `out`.
void append_json(std::string &out, capnp::DynamicValue::Reader value, capnp::Type type);

// {"logMonoTime", "valid", <service>: ...} of one Event (appended to `out`).
std::string event_json(cereal::Event::Reader event);
void append_event_json(std::string &out, cereal::Event::Reader event);

// The JSON Schema of event_json() documents of `service` (an Event union member).
std::string event_schema(std::string_view service);

// The Event union member named `service`, or std::invalid_argument.
capnp::StructSchema::Field service_field(std::string_view service);

void append_base64(std::string &out, const uint8_t *data, size_t size);

}  // namespace foxglove
