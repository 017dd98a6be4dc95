#include "tools/mcap/event_json.h"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace foxglove {

namespace {

using capnp::DynamicValue;
using capnp::schema::Type;

template <typename T>
void append_number(std::string &out, T v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

template <typename F>
void append_float(std::string &out, F v) {
  if (std::isnan(v)) out += "\"NaN\"";
  else if (std::isinf(v)) out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  else append_number(out, v);
}

// Length of the valid UTF-8 sequence at s[0..n), 0 if there is none.
size_t utf8_sequence(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; ++i)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return len;
}

void append_string(std::string &out, const char *text, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const auto *s = reinterpret_cast<const unsigned char *>(text);
  out += '"';
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
      i++;
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
      i++;
    } else if (size_t len = utf8_sequence(s + i, n - i)) {
      out.append(text + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for one invalid byte, as Python's "replace"
      i++;
    }
  }
  out += '"';
}

// A struct type's fields with their types and JSON keys, looked up once per
// type: the schema walk costs more than writing the values.
struct StructLayout {
  struct Field {
    capnp::StructSchema::Field field;
    capnp::Type type;
    std::string key;  // "name":
  };
  std::vector<Field> by_index;      // every field, by its index in the struct
  std::vector<uint16_t> non_union;  // indices of the fields outside the union
};

const StructLayout &layout(capnp::StructSchema s) {
  thread_local std::unordered_map<uint64_t, StructLayout> cache;
  auto [it, fresh] = cache.try_emplace(s.getProto().getId());
  if (fresh) {
    for (auto f : s.getFields()) {
      auto name = f.getProto().getName();
      std::string key;
      append_string(key, name.cStr(), name.size());
      it->second.by_index.push_back({f, f.getType(), key + ':'});
    }
    for (auto f : s.getNonUnionFields()) it->second.non_union.push_back(uint16_t(f.getIndex()));
  }
  return it->second;
}

void append_struct(std::string &out, capnp::DynamicStruct::Reader s) {
  const StructLayout &l = layout(s.getSchema());
  out += '{';
  bool first = true;
  auto field = [&](const StructLayout::Field &f) {
    if (!first) out += ',';
    first = false;
    out += f.key;
    append_json(out, s.get(f.field), f.type);
  };
  for (uint16_t i : l.non_union) field(l.by_index[i]);
  KJ_IF_MAYBE(active, s.which()) { field(l.by_index[active->getIndex()]); }
  out += '}';
}

}  // namespace

void append_base64(std::string &out, const uint8_t *d, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t at = out.size();
  out.resize(at + (n + 2) / 3 * 4);
  char *o = out.data() + at;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = uint32_t(d[i]) << 16 | uint32_t(d[i + 1]) << 8 | d[i + 2];
    *o++ = tbl[v >> 18];
    *o++ = tbl[(v >> 12) & 63];
    *o++ = tbl[(v >> 6) & 63];
    *o++ = tbl[v & 63];
  }
  if (i < n) {
    uint32_t v = uint32_t(d[i]) << 16 | (i + 1 < n ? uint32_t(d[i + 1]) << 8 : 0);
    *o++ = tbl[v >> 18];
    *o++ = tbl[(v >> 12) & 63];
    *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
}

void append_json(std::string &out, DynamicValue::Reader v, capnp::Type type) {
  switch (type.which()) {
    case Type::VOID: out += "null"; return;
    case Type::BOOL: out += v.as<bool>() ? "true" : "false"; return;
    case Type::INT8: case Type::INT16: case Type::INT32: append_number(out, v.as<int64_t>()); return;
    case Type::UINT8: case Type::UINT16: case Type::UINT32: append_number(out, v.as<uint64_t>()); return;
    case Type::INT64: out += '"'; append_number(out, v.as<int64_t>()); out += '"'; return;
    case Type::UINT64: out += '"'; append_number(out, v.as<uint64_t>()); out += '"'; return;
    case Type::FLOAT32: append_float(out, v.as<float>()); return;
    case Type::FLOAT64: append_float(out, v.as<double>()); return;
    case Type::TEXT: {
      auto t = v.as<capnp::Text>();
      append_string(out, t.begin(), t.size());
      return;
    }
    case Type::DATA: {
      auto d = v.as<capnp::Data>();
      out += '"';
      append_base64(out, d.begin(), d.size());
      out += '"';
      return;
    }
    case Type::ENUM: {
      auto e = v.as<capnp::DynamicEnum>();
      KJ_IF_MAYBE(en, e.getEnumerant()) {
        auto name = en->getProto().getName();
        append_string(out, name.cStr(), name.size());
      } else {
        append_number(out, e.getRaw());
      }
      return;
    }
    case Type::STRUCT: append_struct(out, v.as<capnp::DynamicStruct>()); return;
    case Type::LIST: {
      auto list = v.as<capnp::DynamicList>();
      capnp::Type element = type.asList().getElementType();
      out += '[';
      for (unsigned i = 0; i < list.size(); ++i) {
        if (i) out += ',';
        append_json(out, list[i], element);
      }
      out += ']';
      return;
    }
    default: throw std::invalid_argument("event_json: AnyPointer and interfaces have no JSON form");
  }
}

void append_event_json(std::string &out, cereal::Event::Reader event) { append_struct(out, capnp::toDynamic(event)); }

std::string event_json(cereal::Event::Reader event) {
  std::string out;
  append_event_json(out, event);
  return out;
}

capnp::StructSchema::Field service_field(std::string_view service) {
  for (auto f : capnp::Schema::from<cereal::Event>().getUnionFields()) {
    if (std::string_view(f.getProto().getName().cStr()) == service) return f;
  }
  throw std::invalid_argument("no service '" + std::string(service) + "' in cereal/log.capnp's Event union");
}

namespace {

void append_key(std::string &out, std::string_view key) {
  append_string(out, key.data(), key.size());
  out += ':';
}

void append_type_schema(std::string &out, capnp::Type type, int depth);

void append_struct_schema(std::string &out, capnp::StructSchema s, int depth,
                          kj::Maybe<capnp::StructSchema::Field> only_member = nullptr) {
  if (depth > 64) throw std::invalid_argument("event_schema: structs nest deeper than 64 (a recursive type?)");
  out += "{\"type\":\"object\",";
  append_key(out, "title");
  auto title = s.getShortDisplayName();
  append_string(out, title.cStr(), title.size());
  out += ",\"additionalProperties\":false,\"properties\":{";
  std::string required, members;
  bool first = true;
  auto property = [&](capnp::StructSchema::Field f, std::string &list) {
    auto name = f.getProto().getName();
    if (!first) out += ',';
    first = false;
    append_key(out, std::string_view(name.cStr(), name.size()));
    append_type_schema(out, f.getType(), depth + 1);
    if (!list.empty()) list += ',';
    if (&list == &members) list += "{\"required\":[";
    append_string(list, name.cStr(), name.size());
    if (&list == &members) list += "]}";
  };
  for (auto f : s.getNonUnionFields()) property(f, required);
  KJ_IF_MAYBE(member, only_member) {
    property(*member, required);
  } else {
    for (auto f : s.getUnionFields()) property(f, members);
  }
  out += "},\"required\":[" + required + "]";
  if (!members.empty()) out += ",\"oneOf\":[" + members + "]";
  out += '}';
}

void append_type_schema(std::string &out, capnp::Type type, int depth) {
  auto integer = [&](long long lo, unsigned long long hi) {
    out += "{\"type\":\"integer\",\"minimum\":";
    append_number(out, lo);
    out += ",\"maximum\":";
    append_number(out, hi);
    out += '}';
  };
  switch (type.which()) {
    case Type::VOID: out += "{\"type\":\"null\"}"; return;
    case Type::BOOL: out += "{\"type\":\"boolean\"}"; return;
    case Type::INT8: integer(INT8_MIN, INT8_MAX); return;
    case Type::INT16: integer(INT16_MIN, INT16_MAX); return;
    case Type::INT32: integer(INT32_MIN, INT32_MAX); return;
    case Type::UINT8: integer(0, UINT8_MAX); return;
    case Type::UINT16: integer(0, UINT16_MAX); return;
    case Type::UINT32: integer(0, UINT32_MAX); return;
    case Type::INT64:
      out += "{\"type\":\"string\",\"pattern\":\"^-?[0-9]{1,19}$\",\"description\":\"Int64 as a decimal string\"}";
      return;
    case Type::UINT64:
      out += "{\"type\":\"string\",\"pattern\":\"^[0-9]{1,20}$\",\"description\":\"UInt64 as a decimal string\"}";
      return;
    case Type::FLOAT32: case Type::FLOAT64:
      out += "{\"type\":[\"number\",\"string\"],\"pattern\":\"^(NaN|-?Infinity)$\"}";
      return;
    case Type::TEXT: out += "{\"type\":\"string\"}"; return;
    case Type::DATA: out += "{\"type\":\"string\",\"contentEncoding\":\"base64\"}"; return;
    case Type::ENUM: {
      out += "{\"type\":\"string\",\"enum\":[";
      bool first = true;
      for (auto e : type.asEnum().getEnumerants()) {
        if (!first) out += ',';
        first = false;
        auto name = e.getProto().getName();
        append_string(out, name.cStr(), name.size());
      }
      out += "]}";
      return;
    }
    case Type::STRUCT: append_struct_schema(out, type.asStruct(), depth); return;
    case Type::LIST:
      out += "{\"type\":\"array\",\"items\":";
      append_type_schema(out, type.asList().getElementType(), depth + 1);
      out += '}';
      return;
    default: throw std::invalid_argument("event_schema: AnyPointer and interfaces have no JSON form");
  }
}

}  // namespace

std::string event_schema(std::string_view service) {
  std::string out;
  append_struct_schema(out, capnp::Schema::from<cereal::Event>(), 0, service_field(service));
  return out;
}

}  // namespace foxglove
