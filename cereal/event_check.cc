#include "cereal/event_check.h"

#include <unordered_map>
#include <vector>

#include <capnp/dynamic.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

namespace cereal {
namespace {

// Whether a value of this type is, or holds, a pointer that can be bad.
bool may_hold_pointer(capnp::Type t) {
  switch (t.which()) {
    case capnp::schema::Type::TEXT:
    case capnp::schema::Type::DATA:
    case capnp::schema::Type::LIST:
    case capnp::schema::Type::STRUCT:
    case capnp::schema::Type::ANY_POINTER:
    case capnp::schema::Type::INTERFACE:
      return true;
    default:
      return false;
  }
}

// Per struct type reachable from Event: the fields to visit (pointers and
// groups), those outside its union apart from the union's members.
struct Fields {
  std::vector<capnp::StructSchema::Field> always, members;
};
using FieldTable = std::unordered_map<uint64_t, Fields>;

void add_type(FieldTable &table, capnp::Type t);

void add_struct(FieldTable &table, capnp::StructSchema s) {
  if (!table.emplace(s.getProto().getId(), Fields{}).second) return;
  Fields f;
  for (auto field : s.getFields()) {
    const bool group = field.getProto().isGroup();
    if (!group && !may_hold_pointer(field.getType())) continue;
    const bool member = field.getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT;
    (member ? f.members : f.always).push_back(field);
    add_type(table, field.getType());
  }
  table[s.getProto().getId()] = std::move(f);
}

void add_type(FieldTable &table, capnp::Type t) {
  if (t.isStruct()) add_struct(table, t.asStruct());
  if (t.isList()) add_type(table, t.asList().getElementType());
}

// Built once, read-only afterwards: safe from any thread.
const FieldTable &field_table() {
  static const FieldTable table = [] {
    FieldTable t;
    add_struct(t, capnp::Schema::from<Event>());
    return t;
  }();
  return table;
}

void visit(const FieldTable &table, capnp::DynamicValue::Reader v);

void visit_struct(const FieldTable &table, capnp::DynamicStruct::Reader s) {
  const Fields &f = table.at(s.getSchema().getProto().getId());
  for (auto &field : f.always) visit(table, s.get(field));
  if (f.members.empty()) return;
  KJ_IF_MAYBE(active, s.which()) {
    for (auto &field : f.members) {
      if (field.getIndex() == active->getIndex()) visit(table, s.get(field));
    }
  }
}

// Reading a pointer is what capnp checks: getting the value has done it for
// text and data, for a list of primitives too; what it points to is visited.
void visit(const FieldTable &table, capnp::DynamicValue::Reader v) {
  switch (v.getType()) {
    case capnp::DynamicValue::STRUCT:
      visit_struct(table, v.as<capnp::DynamicStruct>());
      break;
    case capnp::DynamicValue::LIST: {
      auto list = v.as<capnp::DynamicList>();
      if (!may_hold_pointer(list.getSchema().getElementType())) break;
      for (auto element : list) visit(table, element);
      break;
    }
    case capnp::DynamicValue::ANY_POINTER:
      v.as<capnp::AnyPointer>().targetSize();  // walks every pointer below it
      break;
    default:
      break;
  }
}

}  // namespace

std::optional<std::string> event_problem(kj::ArrayPtr<const capnp::word> words, Event::Which *which) {
  const FieldTable &table = field_table();
  try {
    capnp::FlatArrayMessageReader msg(words);
    visit_struct(table, msg.getRoot<capnp::DynamicStruct>(capnp::Schema::from<Event>()));
    if (which != nullptr) *which = msg.getRoot<Event>().which();
    return std::nullopt;
  } catch (const kj::Exception &e) {
    return std::string(e.getDescription().cStr());
  }
}

}  // namespace cereal
