#include "cereal/pybind/capnp_values.h"

#include <cstdint>
#include <limits>
#include <unordered_map>
#include <vector>

#include <capnp/any.h>

#include "cereal/messaging.h"
#include "cereal/pybind/fast_cast.h"

namespace cereal_py {

namespace {

using capnp::DynamicList;
using capnp::DynamicStruct;
using capnp::DynamicValue;
using capnp::schema::Type;

std::string type_name(capnp::Type type) {
  switch (type.which()) {
    case Type::VOID: return "Void";
    case Type::BOOL: return "Bool";
    case Type::INT8: return "Int8";
    case Type::INT16: return "Int16";
    case Type::INT32: return "Int32";
    case Type::INT64: return "Int64";
    case Type::UINT8: return "UInt8";
    case Type::UINT16: return "UInt16";
    case Type::UINT32: return "UInt32";
    case Type::UINT64: return "UInt64";
    case Type::FLOAT32: return "Float32";
    case Type::FLOAT64: return "Float64";
    case Type::TEXT: return "Text";
    case Type::DATA: return "Data";
    case Type::LIST: return "List(" + type_name(type.asList().getElementType()) + ")";
    case Type::ENUM: return type.asEnum().getShortDisplayName().cStr();
    case Type::STRUCT: return type.asStruct().getShortDisplayName().cStr();
    case Type::INTERFACE: return "interface";
    case Type::ANY_POINTER: return "AnyPointer";
  }
  return "?";
}

// Where a value goes, for error messages: formatted only when an error is raised,
// so the success path builds no strings.
class Where {
 public:
  explicit Where(capnp::StructSchema::Field field) : field_(field) {}
  explicit Where(const std::string &text) : text_(&text) {}
  Where(const Where &parent, unsigned index) : parent_(&parent), index_(index) {}
  std::string str() const {
    if (parent_ != nullptr) return parent_->str() + "[" + std::to_string(index_) + "]";
    if (text_ != nullptr) return *text_;
    return field_path(*field_);
  }

 private:
  std::optional<capnp::StructSchema::Field> field_;
  const std::string *text_ = nullptr;
  const Where *parent_ = nullptr;
  unsigned index_ = 0;
};

[[noreturn]] void wrong_type(const Where &where, capnp::Type type, const char *expected, py::handle found) {
  throw py::type_error(where.str() + ": expected " + expected + " for " + type_name(type) + ", found " +
                       std::string(py::str(py::type::handle_of(found).attr("__name__"))));
}

bool is_sequence(py::handle v) {
  return PySequence_Check(v.ptr()) && !PyUnicode_Check(v.ptr()) && !PyBytes_Check(v.ptr()) &&
         !PyByteArray_Check(v.ptr()) && !PyDict_Check(v.ptr());
}

template <class T>
T checked_int(py::handle v, const Where &where, capnp::Type type) {
  if (PyBool_Check(v.ptr()) || !PyIndex_Check(v.ptr())) wrong_type(where, type, "int", v);
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
  if (!index) throw py::error_already_set();
  auto out_of_range = [&]() -> T {
    throw py::value_error(where.str() + ": " + std::string(py::str(index)) + " is out of range for " + type_name(type) +
                          " (" + std::to_string(std::numeric_limits<T>::min()) + ".." +
                          std::to_string(std::numeric_limits<T>::max()) + ")");
  };
  if constexpr (std::is_signed_v<T>) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow != 0 || x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) return out_of_range();
    return T(x);
  } else {
    unsigned long long x = PyLong_AsUnsignedLongLong(index.ptr());  // OverflowError when negative, too
    if (PyErr_Occurred()) {
      PyErr_Clear();
      return out_of_range();
    }
    if (x > std::numeric_limits<T>::max()) return out_of_range();
    return T(x);
  }
}

// A Python value turned into a capnp scalar (anything but struct and list).
// Text and Data point into the Python object, which the caller keeps alive.
class Scalar {
 public:
  Scalar(py::handle v, capnp::Type type, const Where &where) {
    switch (type.which()) {
      case Type::VOID:
        if (!v.is_none()) wrong_type(where, type, "None", v);
        value_ = capnp::VOID;
        return;
      case Type::BOOL:
        if (!PyBool_Check(v.ptr())) wrong_type(where, type, "bool", v);
        value_ = v.ptr() == Py_True;
        return;
      case Type::INT8: value_ = checked_int<int8_t>(v, where, type); return;
      case Type::INT16: value_ = checked_int<int16_t>(v, where, type); return;
      case Type::INT32: value_ = checked_int<int32_t>(v, where, type); return;
      case Type::INT64: value_ = checked_int<int64_t>(v, where, type); return;
      case Type::UINT8: value_ = checked_int<uint8_t>(v, where, type); return;
      case Type::UINT16: value_ = checked_int<uint16_t>(v, where, type); return;
      case Type::UINT32: value_ = checked_int<uint32_t>(v, where, type); return;
      case Type::UINT64: value_ = checked_int<uint64_t>(v, where, type); return;
      case Type::FLOAT32:
      case Type::FLOAT64: {
        if (PyBool_Check(v.ptr()) || PyUnicode_Check(v.ptr()) || PyBytes_Check(v.ptr()) ||
            !PyNumber_Check(v.ptr())) {
          wrong_type(where, type, "float", v);
        }
        double d = PyFloat_AsDouble(v.ptr());
        if (d == -1.0 && PyErr_Occurred()) {
          PyErr_Clear();
          wrong_type(where, type, "float", v);
        }
        value_ = d;
        return;
      }
      case Type::TEXT: {
        if (!PyUnicode_Check(v.ptr())) wrong_type(where, type, "str", v);
        Py_ssize_t n = 0;
        const char *s = PyUnicode_AsUTF8AndSize(v.ptr(), &n);
        if (s == nullptr) throw py::error_already_set();
        value_ = capnp::Text::Reader(s, size_t(n));
        return;
      }
      case Type::DATA: {
        if (PyUnicode_Check(v.ptr()) || PyObject_GetBuffer(v.ptr(), &view_, PyBUF_SIMPLE) != 0) {
          PyErr_Clear();
          wrong_type(where, type, "bytes-like object", v);
        }
        has_view_ = true;
        value_ = capnp::Data::Reader(static_cast<const kj::byte *>(view_.buf), size_t(view_.len));
        return;
      }
      case Type::ENUM: {
        capnp::EnumSchema schema = type.asEnum();
        if (PyUnicode_Check(v.ptr())) {
          std::string name = py::cast<std::string>(v);
          KJ_IF_MAYBE(e, schema.findEnumerantByName(name)) {
            value_ = capnp::DynamicEnum(*e);
            return;
          }
          std::string names;
          for (auto e : schema.getEnumerants()) names += std::string(names.empty() ? "" : ", ") + e.getProto().getName().cStr();
          throw py::value_error(where.str() + ": no enumerant '" + name + "' in " + type_name(type) + "; expected one of " + names);
        }
        value_ = capnp::DynamicEnum(schema, checked_int<uint16_t>(v, where, type));
        return;
      }
      default:
        throw py::type_error(where.str() + ": cannot assign a " + type_name(type) + " from Python");
    }
  }
  ~Scalar() {
    if (has_view_) PyBuffer_Release(&view_);
  }
  Scalar(const Scalar &) = delete;
  Scalar &operator=(const Scalar &) = delete;
  const DynamicValue::Reader &value() const { return value_; }

 private:
  DynamicValue::Reader value_;
  Py_buffer view_{};
  bool has_view_ = false;
};

// A reader of the same struct type as `type`, when `v` is one of our objects.
std::optional<DynamicStruct::Reader> struct_of(py::handle v, capnp::StructSchema type) {
  std::optional<DynamicStruct::Reader> r;
  if (auto *reader = wrapped<StructReader>(v)) r = reader->value;
  else if (auto *builder = wrapped<StructBuilder>(v)) r = builder->value.asReader();
  if (r && r->getSchema() != type) {
    throw py::type_error("expected a " + type_name(type) + ", found a " + type_name(r->getSchema()));
  }
  return r;
}

std::optional<DynamicList::Reader> list_of(py::handle v, capnp::ListSchema type) {
  std::optional<DynamicList::Reader> r;
  if (auto *reader = wrapped<ListReader>(v)) r = reader->value;
  else if (auto *builder = wrapped<ListBuilder>(v)) r = builder->value.asReader();
  if (r && r->getSchema() != type) {
    throw py::type_error("expected a " + type_name(type) + ", found a " + type_name(r->getSchema()));
  }
  return r;
}

void set_element_at(DynamicList::Builder list, unsigned index, py::handle value, const Where &where);

void fill_list(DynamicList::Builder list, py::handle seq, const Where &where) {
  for (unsigned i = 0; i < list.size(); ++i) {
    py::object item = py::reinterpret_steal<py::object>(PySequence_GetItem(seq.ptr(), Py_ssize_t(i)));
    if (!item) throw py::error_already_set();
    set_element_at(list, i, item, Where(where, i));
  }
}

size_t sequence_length(py::handle v) {
  Py_ssize_t n = PySequence_Size(v.ptr());
  if (n < 0) throw py::error_already_set();
  if (size_t(n) > size_t(std::numeric_limits<uint32_t>::max() / 8)) {
    throw py::value_error("list of " + std::to_string(n) + " elements is too long for a Cap'n Proto message");
  }
  return size_t(n);
}

py::object enum_to_py(const capnp::DynamicEnum &e) {
  KJ_IF_MAYBE(enumerant, e.getEnumerant()) {
    return py::str(enumerant->getProto().getName().cStr());
  }
  return py::int_(e.getRaw());  // a value from a newer schema
}

}  // namespace

std::string field_path(capnp::StructSchema::Field field) {
  return std::string(field.getContainingStruct().getShortDisplayName().cStr()) + "." +
         field.getProto().getName().cStr();
}

namespace {

// What field access needs of a struct type, decoded once: capnp's own lookups
// decode the schema on every call (findFieldByName: about a thousand
// instructions on Event; getFields() and which(): a few hundred), and every
// attribute get and set looks a field up. Names are indexed by a dict
// {name: index}: a str keeps its hash, so a hit is one dict probe.
struct StructInfo {
  py::dict index_of;
  std::vector<capnp::StructSchema::Field> fields;
  std::vector<uint16_t> discriminants;  // per field; NO_DISCRIMINANT outside the union
  size_t discriminant_byte = 0;         // where the union's tag sits in the data section
};

// Never freed, like the schemas it describes.
const StructInfo &struct_info(capnp::StructSchema schema) {
  struct Hash {
    size_t operator()(capnp::StructSchema s) const { return s.hashCode(); }
  };
  static auto &by_type = *new std::unordered_map<capnp::StructSchema, StructInfo, Hash>;
  auto [it, added] = by_type.try_emplace(schema);
  StructInfo &info = it->second;
  if (added) {
    info.discriminant_byte = schema.getProto().getStruct().getDiscriminantOffset() * sizeof(uint16_t);
    for (auto f : schema.getFields()) {
      info.index_of[py::str(f.getProto().getName().cStr())] = py::int_(info.fields.size());
      info.fields.push_back(f);
      info.discriminants.push_back(f.getProto().getDiscriminantValue());
    }
  }
  return info;
}

// The index of the field named `name` in info, or -1 when there is none.
Py_ssize_t index_in(const StructInfo &info, py::handle name) {
  if (PyObject *index = PyDict_GetItemWithError(info.index_of.ptr(), name.ptr())) return PyLong_AsSsize_t(index);
  if (PyErr_Occurred()) throw py::error_already_set();
  return -1;
}

// Whether field `index` of info is the active member of s's union.
bool holds(const StructInfo &info, DynamicStruct::Reader s, size_t index) {
  const uint16_t wanted = info.discriminants[index];
  if (wanted == capnp::schema::Field::NO_DISCRIMINANT) return false;
  // The tag as capnp reads it: little-endian, zero past a short data section.
  auto data = capnp::AnyStruct::Reader(s).getDataSection();
  uint16_t tag = 0;
  if (info.discriminant_byte + sizeof(tag) <= data.size()) {
    tag = uint16_t(data[info.discriminant_byte] | data[info.discriminant_byte + 1] << 8);
  }
  return tag == wanted;
}

[[noreturn]] void no_field(const StructInfo &info, capnp::StructSchema schema, py::handle name) {
  if (!PyUnicode_Check(name.ptr())) {
    throw py::type_error("field names must be str, found " + std::string(py::str(py::type::handle_of(name).attr("__name__"))));
  }
  std::string names;
  for (auto f : info.fields) names += std::string(names.empty() ? "" : ", ") + f.getProto().getName().cStr();
  throw py::attribute_error(std::string(schema.getShortDisplayName().cStr()) + " has no field '" +
                            py::cast<std::string>(name) + "'; fields: " + names);
}

// The index of the field named `name` in info; AttributeError (TypeError) as field_of().
size_t field_index(const StructInfo &info, capnp::StructSchema schema, py::handle name) {
  const Py_ssize_t i = index_in(info, name);
  if (i < 0) no_field(info, schema, name);
  return size_t(i);
}

}  // namespace

capnp::StructSchema::Field field_of(capnp::StructSchema schema, py::handle name) {
  const StructInfo &info = struct_info(schema);
  return info.fields[field_index(info, schema, name)];
}

bool holds_member(DynamicStruct::Reader s, py::handle name) {
  const StructInfo &info = struct_info(s.getSchema());
  const Py_ssize_t i = index_in(info, name);
  return i >= 0 && holds(info, s, size_t(i));
}

capnp::StructSchema::Field readable_field(DynamicStruct::Reader s, py::handle name) {
  const StructInfo &info = struct_info(s.getSchema());
  const size_t i = field_index(info, s.getSchema(), name);
  const capnp::StructSchema::Field &field = info.fields[i];
  if (info.discriminants[i] == capnp::schema::Field::NO_DISCRIMINANT || holds(info, s, i)) return field;
  KJ_IF_MAYBE(active, s.which()) {
    throw CapnpError(field_path(field) + " is not set: the active union member is '" +
                     active->getProto().getName().cStr() + "'");
  }
  throw CapnpError(field_path(field) + " is not set: the active union member is unknown to this schema");
}

capnp::DynamicValue::Builder init_field(capnp::DynamicStruct::Builder s, py::handle name, py::handle size) {
  auto field = field_of(s.getSchema(), name);
  capnp::Type type = field.getType();
  if (type.isStruct()) {
    if (!size.is_none()) throw py::type_error(field_path(field) + " is a struct: init() takes no size");
    return s.init(field);
  }
  if (type.isList()) {
    if (size.is_none()) throw CapnpError(field_path(field) + " is a list: init() needs a size");
    return s.init(field, py::cast<uint32_t>(size));
  }
  throw py::type_error(field_path(field) + " is neither a struct nor a list: assign it instead of init()");
}

py::object to_py(const DynamicValue::Reader &value, const Keep &keep) {
  switch (value.getType()) {
    case DynamicValue::VOID: return py::none();
    case DynamicValue::BOOL: return py::bool_(value.as<bool>());
    case DynamicValue::INT: return py::int_(value.as<int64_t>());
    case DynamicValue::UINT: return py::int_(value.as<uint64_t>());
    case DynamicValue::FLOAT: return py::float_(value.as<double>());
    case DynamicValue::TEXT: {
      capnp::Text::Reader t = value.as<capnp::Text>();
      // Text is UTF-8 by contract; a bad byte becomes U+FFFD instead of failing the whole read.
      return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(t.begin(), Py_ssize_t(t.size()), "replace"));
    }
    case DynamicValue::DATA: {
      capnp::Data::Reader d = value.as<capnp::Data>();
      return py::bytes(reinterpret_cast<const char *>(d.begin()), d.size());
    }
    case DynamicValue::LIST: return wrap(ListReader{keep, value.as<DynamicList>()});
    case DynamicValue::ENUM: return enum_to_py(value.as<capnp::DynamicEnum>());
    case DynamicValue::STRUCT: return wrap(StructReader{keep, value.as<DynamicStruct>()});
    default: throw CapnpError("unsupported Cap'n Proto value type (AnyPointer or interface)");
  }
}

py::object to_py(DynamicValue::Builder value, const Keep &keep) {
  switch (value.getType()) {
    case DynamicValue::LIST: return wrap(ListBuilder{keep, value.as<DynamicList>()});
    case DynamicValue::STRUCT: return wrap(StructBuilder{keep, value.as<DynamicStruct>()});
    default: return to_py(value.asReader(), keep);
  }
}

py::object to_plain(const DynamicValue::Reader &value) {
  switch (value.getType()) {
    case DynamicValue::LIST: {
      DynamicList::Reader list = value.as<DynamicList>();
      py::list out(list.size());
      for (unsigned i = 0; i < list.size(); ++i) out[i] = to_plain(list[i]);
      return out;
    }
    case DynamicValue::STRUCT: {
      DynamicStruct::Reader s = value.as<DynamicStruct>();
      py::dict out;
      for (auto field : s.getSchema().getNonUnionFields()) {
        out[field.getProto().getName().cStr()] = to_plain(s.get(field));
      }
      KJ_IF_MAYBE(active, s.which()) {
        out[active->getProto().getName().cStr()] = to_plain(s.get(*active));
      }
      return out;
    }
    default: return to_py(value, nullptr);
  }
}

void set_field(DynamicStruct::Builder s, capnp::StructSchema::Field field, py::handle value) {
  capnp::Type type = field.getType();
  Where where(field);
  if (type.isStruct()) {
    if (auto r = struct_of(value, type.asStruct())) {
      s.set(field, *r);
    } else if (PyDict_Check(value.ptr())) {
      set_fields(s.init(field).as<DynamicStruct>(), value);
    } else {
      wrong_type(where, type, "dict or struct", value);
    }
  } else if (type.isList()) {
    if (auto r = list_of(value, type.asList())) {
      s.set(field, *r);
    } else if (is_sequence(value)) {
      fill_list(s.init(field, unsigned(sequence_length(value))).as<DynamicList>(), value, where);
    } else {
      wrong_type(where, type, "list", value);
    }
  } else {
    Scalar scalar(value, type, where);
    s.set(field, scalar.value());
  }
}

void set_fields(DynamicStruct::Builder s, py::handle fields) {
  for (auto item : py::reinterpret_borrow<py::dict>(fields)) set_field(s, field_of(s.getSchema(), item.first), item.second);
}

void set_element(DynamicList::Builder list, unsigned index, py::handle value, const std::string &where) {
  set_element_at(list, index, value, Where(where));
}

namespace {

void set_element_at(DynamicList::Builder list, unsigned index, py::handle value, const Where &where) {
  capnp::Type type = list.getSchema().getElementType();
  if (type.isStruct()) {
    if (auto r = struct_of(value, type.asStruct())) {
      list.set(index, *r);
    } else if (PyDict_Check(value.ptr())) {
      set_fields(list[index].as<DynamicStruct>(), value);
    } else {
      wrong_type(where, type, "dict or struct", value);
    }
  } else if (type.isList()) {
    if (auto r = list_of(value, type.asList())) {
      list.set(index, *r);
    } else if (is_sequence(value)) {
      fill_list(list.init(index, unsigned(sequence_length(value))).as<DynamicList>(), value, where);
    } else {
      wrong_type(where, type, "list", value);
    }
  } else {
    Scalar scalar(value, type, where);
    list.set(index, scalar.value());
  }
}

}  // namespace

StructReader read_struct(capnp::StructSchema schema, std::shared_ptr<ReadMessage> msg,
                         kj::ArrayPtr<const capnp::word> words, capnp::ReaderOptions options) {
  msg->reader.emplace(words, options);
  DynamicStruct::Reader root = msg->reader->getRoot<DynamicStruct>(schema);
  return StructReader{std::move(msg), root};
}

py::bytes serialize_struct(DynamicStruct::Reader s) {
  capnp::MallocMessageBuilder message;
  message.setRoot(s);
  std::vector<uint64_t> out;
  size_t size = cereal::serialize(message, out);
  return py::bytes(reinterpret_cast<const char *>(out.data()), size);
}

}  // namespace cereal_py
