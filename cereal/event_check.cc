#include "cereal/event_check.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include <capnp/any.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

namespace cereal {
namespace {

// What the schema says a pointer holds, in the form the walk needs: how capnp
// is asked to read it (the element size of a list), and the table of a struct.
enum class Kind : uint8_t {
  STRUCT, TEXT, DATA, ANY,
  LIST_BIT, LIST_BYTE, LIST_TWO, LIST_FOUR, LIST_EIGHT,
  LIST_STRUCT, LIST_TEXT, LIST_DATA, LIST_LIST,
};
struct Type {
  Kind kind;
  uint32_t child = 0;  // STRUCT, LIST_STRUCT: index in Tables::structs; LIST_LIST: in Tables::types
};
// A union member is read only while its union's discriminant (a 16-bit word
// of the data section) holds its value; a member inside a group inside a
// union has two such conditions.
struct Condition {
  uint32_t offset;  // in 16-bit words
  uint16_t value;
};
struct Slot {
  uint32_t pointer;  // index in the pointer section
  Type type;
  std::vector<Condition> when;  // beyond the union the slot is filed under
};
// A union's members by discriminant, so a struct with many (Event) costs one lookup.
struct Union {
  uint32_t offset;                         // of the discriminant, in 16-bit words
  std::vector<std::vector<Slot>> members;  // [discriminant]
};
struct Struct {
  std::vector<Slot> always;  // outside any union
  std::vector<Union> unions;
};
struct Tables {
  std::vector<Struct> structs;  // per struct type reachable from Event
  std::vector<Type> types;      // element types of lists of lists
};

class Builder {
 public:
  Tables tables;

  uint32_t add_struct(capnp::StructSchema s) {
    auto [it, fresh] = index_.emplace(s.getProto().getId(), uint32_t(tables.structs.size()));
    if (fresh) {
      tables.structs.emplace_back();
      add_fields(s, it->second, {});
    }
    return it->second;
  }

 private:
  // Groups share their parent's sections: their fields become its slots.
  void add_fields(capnp::StructSchema s, uint32_t index, const std::vector<Condition> &when) {
    for (auto field : s.getFields()) {
      auto w = when;
      const uint16_t d = field.getProto().getDiscriminantValue();
      if (d != capnp::schema::Field::NO_DISCRIMINANT) w.push_back({s.getProto().getStruct().getDiscriminantOffset(), d});
      if (field.getProto().isGroup()) {
        add_fields(field.getType().asStruct(), index, w);
      } else if (auto t = type_of(field.getType())) {
        file(tables.structs[index], {field.getProto().getSlot().getOffset(), *t, std::move(w)});
      }
    }
  }

  // Under its first condition's union, or with the slots read always.
  static void file(Struct &s, Slot slot) {
    if (slot.when.empty()) return s.always.push_back(std::move(slot));
    const Condition first = slot.when.front();
    slot.when.erase(slot.when.begin());
    Union *u = nullptr;
    for (Union &x : s.unions) u = x.offset == first.offset ? &x : u;
    if (u == nullptr) u = &s.unions.emplace_back(Union{first.offset, {}});
    if (u->members.size() <= first.value) u->members.resize(first.value + 1);
    u->members[first.value].push_back(std::move(slot));
  }

  // Empty for types that hold no pointer (primitives, enums, void).
  std::optional<Type> type_of(capnp::Type t) {
    using W = capnp::schema::Type;
    switch (t.which()) {
      case W::TEXT: return Type{Kind::TEXT};
      case W::DATA: return Type{Kind::DATA};
      case W::STRUCT: return Type{Kind::STRUCT, add_struct(t.asStruct())};
      case W::ANY_POINTER:
      case W::INTERFACE: return Type{Kind::ANY};
      case W::LIST: return list_of(t.asList().getElementType());
      default: return std::nullopt;
    }
  }

  Type list_of(capnp::Type e) {
    using W = capnp::schema::Type;
    switch (e.which()) {
      case W::BOOL: return {Kind::LIST_BIT};
      case W::INT8: case W::UINT8: return {Kind::LIST_BYTE};
      case W::INT16: case W::UINT16: case W::ENUM: return {Kind::LIST_TWO};
      case W::INT32: case W::UINT32: case W::FLOAT32: return {Kind::LIST_FOUR};
      case W::INT64: case W::UINT64: case W::FLOAT64: return {Kind::LIST_EIGHT};
      case W::STRUCT: return {Kind::LIST_STRUCT, add_struct(e.asStruct())};
      case W::TEXT: return {Kind::LIST_TEXT};
      case W::DATA: return {Kind::LIST_DATA};
      case W::LIST: {
        Type inner = list_of(e.asList().getElementType());
        tables.types.push_back(inner);
        return {Kind::LIST_LIST, uint32_t(tables.types.size() - 1)};
      }
      default: return {Kind::ANY};  // List(Void), lists of AnyPointer or interfaces: walked schema-less
    }
  }

  std::unordered_map<uint64_t, uint32_t> index_;
};

// Built once, read-only afterwards: safe from any thread. Event is struct 0.
const Tables &tables() {
  static const Tables t = [] {
    Builder b;
    b.add_struct(capnp::Schema::from<Event>());
    return std::move(b.tables);
  }();
  return t;
}

uint16_t discriminant(kj::ArrayPtr<const kj::byte> data, uint32_t offset) {
  uint16_t d = 0;  // a data section too short to hold it reads as zero, as in capnp
  if ((size_t(offset) + 1) * 2 <= data.size()) std::memcpy(&d, data.begin() + size_t(offset) * 2, 2);
  return d;
}

void visit(const Tables &t, capnp::AnyPointer::Reader p, Type type);

void visit_slots(const Tables &t, const std::vector<Slot> &slots, kj::ArrayPtr<const kj::byte> data,
                 capnp::List<capnp::AnyPointer>::Reader pointers) {
  for (const Slot &slot : slots) {
    if (slot.pointer >= pointers.size()) continue;  // an older writer's struct: the default
    bool active = true;
    for (const Condition &c : slot.when) active = active && discriminant(data, c.offset) == c.value;
    if (active) visit(t, pointers[slot.pointer], slot.type);
  }
}

void visit_struct(const Tables &t, capnp::AnyStruct::Reader s, uint32_t index) {
  const Struct &st = t.structs[index];
  const auto data = s.getDataSection();
  const auto pointers = s.getPointerSection();
  visit_slots(t, st.always, data, pointers);
  for (const Union &u : st.unions) {
    const uint16_t d = discriminant(data, u.offset);
    if (d < u.members.size()) visit_slots(t, u.members[d], data, pointers);  // else a newer writer's member
  }
}

// Asking capnp for the pointer as its schema type is the check (kind, bounds,
// element size, NUL-terminated text); what it points to is visited in turn.
void visit(const Tables &t, capnp::AnyPointer::Reader p, Type type) {
  if (p.isNull()) return;
  switch (type.kind) {
    case Kind::STRUCT: visit_struct(t, p.getAs<capnp::AnyStruct>(), type.child); break;
    case Kind::TEXT: p.getAs<capnp::Text>(); break;
    case Kind::DATA: p.getAs<capnp::Data>(); break;
    case Kind::ANY: p.targetSize(); break;
    case Kind::LIST_BIT: p.getAs<capnp::List<bool>>(); break;
    case Kind::LIST_BYTE: p.getAs<capnp::List<uint8_t>>(); break;
    case Kind::LIST_TWO: p.getAs<capnp::List<uint16_t>>(); break;
    case Kind::LIST_FOUR: p.getAs<capnp::List<uint32_t>>(); break;
    case Kind::LIST_EIGHT: p.getAs<capnp::List<uint64_t>>(); break;
    case Kind::LIST_STRUCT:  // read as any struct type's list: the check is the same for all of them
      for (auto element : p.getAs<capnp::List<Event>>()) visit_struct(t, capnp::AnyStruct::Reader(element), type.child);
      break;
    case Kind::LIST_TEXT:
      for (auto text : p.getAs<capnp::List<capnp::Text>>()) (void)text;
      break;
    case Kind::LIST_DATA:
      for (auto data : p.getAs<capnp::List<capnp::Data>>()) (void)data;
      break;
    case Kind::LIST_LIST:  // checked as a list of pointers, then each element as its type
      p.getAs<capnp::List<capnp::Text>>();
      for (auto element : p.getAs<capnp::AnyList>().as<capnp::List<capnp::AnyPointer>>()) visit(t, element, t.types[type.child]);
      break;
  }
}

// The fast path: the usual shape (one segment, every pointer near and of the
// kind and element size the schema names) walked over the raw words. It only
// ever says "readable" when capnp's reader would agree (bounds, text ending in
// NUL, nesting and traversal within capnp's default limits, counted as or
// above capnp counts them); anything else is left to capnp's own reader above.
class RawWalk {
 public:
  RawWalk(const Tables &t, const uint64_t *segment, uint64_t words, uint64_t limit)
      : t_(t), seg_(segment), size_(words), limit_(limit) {}

  bool root_ok() { return struct_ok(0, 0, Type{Kind::STRUCT, 0}); }

 private:
  static constexpr int kMaxDepth = 60;  // below capnp's nesting limit of 64

  // The target of the pointer at word `at`, if in the segment with `words` after it.
  bool target(uint64_t at, uint64_t ptr, uint64_t words, uint64_t &start) {
    const int64_t offset = int32_t(uint32_t(ptr)) >> 2;
    const int64_t s = int64_t(at) + 1 + offset;
    if (s < 0 || uint64_t(s) > size_ || words > size_ - uint64_t(s)) return false;
    start = uint64_t(s);
    read_ += std::max<uint64_t>(words, 1);
    return read_ <= limit_;
  }

  bool struct_at(uint64_t start, uint64_t data_words, uint64_t pointer_words, uint32_t index, int depth) {
    const Struct &st = t_.structs[index];
    auto slots_ok = [&](const std::vector<Slot> &slots) {
      for (const Slot &slot : slots) {
        if (slot.pointer >= pointer_words) continue;
        bool active = true;
        for (const Condition &c : slot.when) active = active && discriminant(start, data_words, c.offset) == c.value;
        if (active && !pointer_ok(start + data_words + slot.pointer, slot.type, depth)) return false;
      }
      return true;
    };
    if (!slots_ok(st.always)) return false;
    for (const Union &u : st.unions) {
      const uint16_t d = discriminant(start, data_words, u.offset);
      if (d < u.members.size() && !slots_ok(u.members[d])) return false;
    }
    return true;
  }

  uint16_t discriminant(uint64_t start, uint64_t data_words, uint32_t offset) const {
    uint16_t d = 0;
    if ((uint64_t(offset) + 1) * 2 <= data_words * 8) std::memcpy(&d, reinterpret_cast<const char *>(seg_ + start) + offset * 2, 2);
    return d;
  }

  bool struct_ok(uint64_t at, int depth, Type type) {
    const uint64_t p = seg_[at];
    const uint64_t data_words = uint16_t(p >> 32), pointer_words = uint16_t(p >> 48);
    uint64_t start;
    return (p & 3) == 0 && target(at, p, data_words + pointer_words, start) &&
           struct_at(start, data_words, pointer_words, type.child, depth + 1);
  }

  // A list pointer of element size `size` (capnp's code), in bounds; its start and count.
  bool list(uint64_t at, unsigned size, uint64_t &start, uint64_t &count) {
    static constexpr unsigned kBits[] = {0, 1, 8, 16, 32, 64, 64};
    const uint64_t p = seg_[at];
    if ((p & 3) != 1 || ((p >> 32) & 7) != size) return false;
    count = p >> 35;
    return target(at, p, size == 7 ? count + 1 : (count * kBits[size] + 63) / 64, start);  // 7: a tag word first
  }

  bool pointer_ok(uint64_t at, Type type, int depth) {
    if (seg_[at] == 0) return true;  // null: the default
    if (depth > kMaxDepth) return false;
    uint64_t start, count;
    switch (type.kind) {
      case Kind::STRUCT: return struct_ok(at, depth, type);
      case Kind::TEXT:
        return list(at, 2, start, count) && count > 0 && reinterpret_cast<const char *>(seg_ + start)[count - 1] == '\0';
      case Kind::DATA:
      case Kind::LIST_BYTE: return list(at, 2, start, count);
      case Kind::LIST_BIT: return list(at, 1, start, count);
      case Kind::LIST_TWO: return list(at, 3, start, count);
      case Kind::LIST_FOUR: return list(at, 4, start, count);
      case Kind::LIST_EIGHT: return list(at, 5, start, count);
      case Kind::LIST_STRUCT: {
        if (!list(at, 7, start, count)) return false;
        const uint64_t tag = seg_[start];  // element count in the offset field, then the struct's size
        const uint64_t n = uint32_t(tag) >> 2, data_words = uint16_t(tag >> 32), pointer_words = uint16_t(tag >> 48);
        if (data_words + pointer_words == 0) read_ += n;  // capnp counts zero-sized elements a word each
        if ((tag & 3) != 0 || n * (data_words + pointer_words) > count || read_ > limit_) return false;
        for (uint64_t i = 0; i < n; ++i) {
          if (!struct_at(start + 1 + i * (data_words + pointer_words), data_words, pointer_words, type.child, depth + 1)) return false;
        }
        return true;
      }
      case Kind::LIST_TEXT:
      case Kind::LIST_DATA:
      case Kind::LIST_LIST: {
        if (!list(at, 6, start, count)) return false;
        const Type element = type.kind == Kind::LIST_TEXT ? Type{Kind::TEXT}
                             : type.kind == Kind::LIST_DATA ? Type{Kind::DATA}
                                                            : t_.types[type.child];
        for (uint64_t i = 0; i < count; ++i) {
          if (!pointer_ok(start + i, element, depth + 1)) return false;
        }
        return true;
      }
      case Kind::ANY: return false;
    }
    return false;
  }

  const Tables &t_;
  const uint64_t *seg_;
  uint64_t size_;
  uint64_t limit_;     // capnp's traversal limit
  uint64_t read_ = 0;  // words read, as capnp's traversal limit counts them (or more)
};

// True when `words` is one segment whose every pointer the raw walk accepts.
bool fast_readable(const Tables &t, kj::ArrayPtr<const capnp::word> words) {
  if (words.size() < 2) return false;
  const auto *w = reinterpret_cast<const uint64_t *>(words.begin());
  if (w[0] != (words.size() - 1) << 32) return false;  // one segment (count-1 = 0) filling the message
  return RawWalk(t, w + 1, words.size() - 1, event_reader_options(words.size()).traversalLimitInWords).root_ok();
}

bool capnp_readable(const Tables &t, kj::ArrayPtr<const capnp::word> words, Event::Which *which) {
  capnp::FlatArrayMessageReader msg(words, event_reader_options(words.size()));
  visit_struct(t, msg.getRoot<capnp::AnyStruct>(), 0);
  if (which != nullptr) *which = msg.getRoot<Event>().which();
  return true;
}

}  // namespace

capnp::ReaderOptions event_reader_options(size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::min<uint64_t>(options.traversalLimitInWords, 2 * uint64_t(words));
  return options;
}

std::optional<std::string> event_problem(kj::ArrayPtr<const capnp::word> words, Event::Which *which) {
  const Tables &t = tables();
  if (which == nullptr && fast_readable(t, words)) return std::nullopt;
  try {
    capnp_readable(t, words, which);
    return std::nullopt;
  } catch (const kj::Exception &e) {
    return std::string(e.getDescription().cStr());
  }
}

bool event_readable_by_capnp(kj::ArrayPtr<const capnp::word> words) {
  try {
    return capnp_readable(tables(), words, nullptr);
  } catch (const kj::Exception &) {
    return false;
  }
}

bool event_readable_fast(kj::ArrayPtr<const capnp::word> words) { return fast_readable(tables(), words); }

}  // namespace cereal
