#pragma once
// Python views of Cap'n Proto messages, over capnp's dynamic API.
//
// Every reader and builder object holds `keep`, a shared owner of the memory it
// points into (the received bytes, the parsed message, the message builder), so
// a Python object stays valid however long it lives.
// Conversions: integers, floats, bools, str (Text, UTF-8), bytes (Data), enums
// as enumerant names (str), structs and lists as reader/builder objects.
// Errors: a wrong Python type raises TypeError, an out-of-range value or unknown
// enumerant ValueError, an unknown field AttributeError, and anything capnp
// rejects (malformed message, traversal limit) CapnpError — never a crash.
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema-parser.h>
#include <capnp/serialize.h>
#include <pybind11/pybind11.h>

#include "cereal/messaging.h"

namespace cereal_py {

namespace py = pybind11;

// Raised to Python as cereal.CapnpError (a ValueError).
struct CapnpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Keep = std::shared_ptr<void>;

// A message read from bytes. The bytes are read in place when they are an
// 8-byte aligned Python bytes object or come from another owner (`external`);
// otherwise they are copied once into `copy`.
struct ReadMessage {
  py::object source;
  std::shared_ptr<const void> external;
  kj::Array<capnp::word> copy;
  std::optional<capnp::FlatArrayMessageReader> reader;
};

struct BuiltMessage {
  BuiltMessage() = default;
  // Built in a loan of `sock`, which `lender` (its Python PubSocket) keeps alive.
  BuiltMessage(py::object lender, msgq::PubSocket &sock, size_t capacity)
      : lender(std::move(lender)), message(sock, capacity) {}
  py::object lender;  // destroyed after `message`, which gives the loan back
  cereal::MessageBuilder message;
};

struct StructReader {
  Keep keep;
  capnp::DynamicStruct::Reader value;
};

struct StructBuilder {
  Keep keep;
  capnp::DynamicStruct::Builder value;
  bool is_root = false;  // the root of keep's BuiltMessage
};

struct ListReader {
  Keep keep;
  capnp::DynamicList::Reader value;
};

struct ListBuilder {
  Keep keep;
  capnp::DynamicList::Builder value;
};

// A struct type of a parsed .capnp file (Python: StructSchema, e.g. cereal.log.Event).
struct StructSchemaPy {
  capnp::StructSchema type;
  std::optional<capnp::ParsedSchema> node;  // declarations nested in it; absent for a field's type
  capnp::StructSchema schema() const { return type; }
};

// Fields by Python name, from a table decoded once per struct type (capnp's own
// lookups decode the schema on every call).
// The field named `name` (a str) of `schema`; AttributeError listing the fields
// when missing, TypeError when `name` is not a str.
capnp::StructSchema::Field field_of(capnp::StructSchema schema, py::handle name);
// field_of(), for reading `s`: CapnpError when it is a union member other than the active one.
capnp::StructSchema::Field readable_field(capnp::DynamicStruct::Reader s, py::handle name);
// Whether `name` is the active member of s's union (false for a field outside
// the union, and for a name s has no field of).
bool holds_member(capnp::DynamicStruct::Reader s, py::handle name);
// "Event.can": for error messages.
std::string field_path(capnp::StructSchema::Field field);

// s.init(name, size): the field `name` (a struct, or a list of `size`) made
// anew. TypeError for a size where none belongs or none where one does, and
// for a field that is neither struct nor list.
capnp::DynamicValue::Builder init_field(capnp::DynamicStruct::Builder s, py::handle name, py::handle size);

py::object to_py(const capnp::DynamicValue::Reader &value, const Keep &keep);
py::object to_py(capnp::DynamicValue::Builder value, const Keep &keep);
// Plain Python: dicts for structs (only the active union member), lists, str, bytes.
py::object to_plain(const capnp::DynamicValue::Reader &value);

void set_field(capnp::DynamicStruct::Builder s, capnp::StructSchema::Field field, py::handle value);
// Sets every key of `fields` (a dict or kwargs) as a field of `s`.
void set_fields(capnp::DynamicStruct::Builder s, py::handle fields);
void set_element(capnp::DynamicList::Builder list, unsigned index, py::handle value, const std::string &where);

// Reads one message of `schema` from `words`, which `owner` keeps alive.
StructReader read_struct(capnp::StructSchema schema, std::shared_ptr<ReadMessage> msg,
                         kj::ArrayPtr<const capnp::word> words, capnp::ReaderOptions options);

// The message holding `s` in Cap'n Proto flat framing, as Python bytes.
py::bytes serialize_struct(capnp::DynamicStruct::Reader s);

}  // namespace cereal_py
