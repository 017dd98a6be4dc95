#include "streamd/event_json.h"

#include <capnp/dynamic.h>

#include "streamd/json.h"

namespace streamd {

namespace {

constexpr int kMaxDepth = 4;
constexpr unsigned kMaxList = 64;

// Appends the JSON of `v` to `out`; false (nothing appended) for what is left out.
bool append(std::string &out, capnp::DynamicValue::Reader v, int depth) {
  switch (v.getType()) {
    case capnp::DynamicValue::BOOL: out += v.as<bool>() ? "true" : "false"; return true;
    case capnp::DynamicValue::INT: out += std::to_string(v.as<int64_t>()); return true;
    case capnp::DynamicValue::UINT: out += std::to_string(v.as<uint64_t>()); return true;
    case capnp::DynamicValue::FLOAT: out += json_number(v.as<double>()); return true;
    case capnp::DynamicValue::TEXT: out += json_quote(v.as<capnp::Text>().cStr()); return true;
    case capnp::DynamicValue::ENUM: {
      KJ_IF_MAYBE(e, v.as<capnp::DynamicEnum>().getEnumerant()) {
        out += json_quote(e->getProto().getName().cStr());
      } else {
        out += std::to_string(v.as<capnp::DynamicEnum>().getRaw());
      }
      return true;
    }
    case capnp::DynamicValue::LIST: {
      auto list = v.as<capnp::DynamicList>();
      if (depth >= kMaxDepth || list.size() > kMaxList) return false;
      out += "[";
      for (unsigned i = 0; i < list.size(); i++) {
        if (i) out += ",";
        if (!append(out, list[i], depth + 1)) out += "null";
      }
      out += "]";
      return true;
    }
    case capnp::DynamicValue::STRUCT: {
      if (depth >= kMaxDepth) return false;
      auto st = v.as<capnp::DynamicStruct>();
      out += "{";
      bool first = true;
      auto add = [&](capnp::StructSchema::Field field) {
        size_t mark = out.size();
        out += std::string(first ? "" : ",") + json_quote(field.getProto().getName().cStr()) + ":";
        if (append(out, st.get(field), depth + 1)) {
          first = false;
        } else {
          out.resize(mark);
        }
      };
      for (auto field : st.getSchema().getNonUnionFields()) add(field);
      KJ_IF_MAYBE(member, st.which()) { add(*member); }
      out += "}";
      return true;
    }
    default: return false;  // DATA, VOID, ANY_POINTER, CAPABILITY
  }
}

}  // namespace

std::string event_json(cereal::Event::Reader event) {
  capnp::DynamicStruct::Reader dyn = capnp::toDynamic(event);
  std::string out = "{\"logMonoTime\":" + std::to_string(event.getLogMonoTime()) +
                    ",\"valid\":" + (event.getValid() ? "true" : "false");
  KJ_IF_MAYBE(member, dyn.which()) {
    out += ",\"service\":" + json_quote(member->getProto().getName().cStr()) + ",\"data\":";
    if (!append(out, dyn.get(*member), 0)) out += "null";
  }
  return out + "}";
}

}  // namespace streamd
