// Python classes for schemas, readers, builders and lists (see capnp_values.h),
// and load_schema(): log.capnp parsed at run time by capnp's SchemaParser.
// Their field and index access go through type_slots.h.
#include <cstring>
#include <string>
#include <vector>

#include <capnp/compat/json.h>
#include <capnp/pretty-print.h>
#include <capnp/schema-parser.h>
#include <kj/filesystem.h>
#include <pybind11/stl.h>

#include "cereal/messaging.h"
#include "cereal/pybind/bindings.h"
#include "cereal/pybind/capnp_values.h"
#include "cereal/pybind/fast_cast.h"
#include "cereal/pybind/json_escapes.h"
#include "cereal/pybind/type_slots.h"
#include "common/py_object_guards.h"

namespace cereal_py {

namespace {

using capnp::DynamicList;
using capnp::DynamicStruct;

struct EnumSchemaPy {
  capnp::ParsedSchema node;
};

// The parser owns every schema it loaded and must outlive them all, including
// Python objects destroyed at interpreter exit: it is never freed.
capnp::SchemaParser &parser() {
  static capnp::SchemaParser *p = new capnp::SchemaParser;
  return *p;
}

kj::Filesystem &filesystem() {
  static auto *fs = new kj::Own<kj::Filesystem>(kj::newDiskFilesystem());
  return **fs;
}

py::dict type_info(capnp::Type type) {
  static const char *const kinds[] = {"void", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                      "uint64", "float32", "float64", "text", "data", "list", "enum", "struct",
                                      "interface", "anyPointer"};
  py::dict info;
  info["kind"] = kinds[type.which()];
  if (type.isEnum()) {
    py::list names;
    for (auto e : type.asEnum().getEnumerants()) names.append(e.getProto().getName().cStr());
    info["enumerants"] = names;
  } else if (type.isStruct()) {
    info["schema"] = py::cast(StructSchemaPy{type.asStruct(), std::nullopt});
  } else if (type.isList()) {
    info["element"] = type_info(type.asList().getElementType());
  }
  return info;
}

py::object node_to_py(capnp::ParsedSchema node) {
  switch (node.getProto().which()) {
    case capnp::schema::Node::STRUCT: return py::cast(StructSchemaPy{node.asStruct(), node});
    case capnp::schema::Node::ENUM: return py::cast(EnumSchemaPy{node});
    case capnp::schema::Node::CONST: return to_plain(node.asConst().as<capnp::DynamicValue>());
    default: return py::none();
  }
}

py::dict load_schema(const std::string &path, const std::vector<std::string> &import_paths) {
  kj::Filesystem &fs = filesystem();
  std::vector<kj::Own<const kj::ReadableDirectory>> dirs;
  std::vector<const kj::ReadableDirectory *> imports;
  for (const std::string &p : import_paths) {
    dirs.push_back(fs.getRoot().openSubdir(fs.getCurrentPath().eval(p)));
    imports.push_back(dirs.back().get());
  }
  capnp::ParsedSchema file = parser().parseFromDirectory(
      fs.getRoot(), fs.getCurrentPath().eval(path),
      kj::ArrayPtr<const kj::ReadableDirectory *const>(imports.data(), imports.size()));
  py::dict out;
  for (capnp::ParsedSchema node : file.getAllNested()) {
    py::object obj = node_to_py(node);
    if (!obj.is_none()) out[node.getShortDisplayName().cStr()] = obj;
  }
  return out;
}

capnp::ReaderOptions reader_options(py::object traversal_limit_in_words, py::object nesting_limit) {
  capnp::ReaderOptions options;
  if (!traversal_limit_in_words.is_none()) options.traversalLimitInWords = py::cast<uint64_t>(traversal_limit_in_words);
  if (!nesting_limit.is_none()) options.nestingLimit = py::cast<int>(nesting_limit);
  return options;
}

// Readers over `data`: in place when it is an aligned bytes object, else over one copy.
std::shared_ptr<ReadMessage> hold_bytes(py::handle data, kj::ArrayPtr<const capnp::word> *words) {
  auto msg = std::make_shared<ReadMessage>();
  if (const msgq::MessageView *view = message_view_in(data)) {  // in place, in the ring: check view.intact() after
    if (view->size() % sizeof(capnp::word) != 0) {
      throw CapnpError("a Cap'n Proto message is a whole number of 8-byte words; got " + std::to_string(view->size()) +
                       " bytes");
    }
    msg->source = py::reinterpret_borrow<py::object>(data);
    *words = kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(view->data()),
                                             view->size() / sizeof(capnp::word));
    return msg;
  }
  if (PyBytes_Check(data.ptr())) {
    const char *p = PyBytes_AS_STRING(data.ptr());
    size_t n = size_t(PyBytes_GET_SIZE(data.ptr()));
    if (n % sizeof(capnp::word) != 0) {
      throw CapnpError("a Cap'n Proto message is a whole number of 8-byte words; got " + std::to_string(n) + " bytes");
    }
    if (reinterpret_cast<uintptr_t>(p) % alignof(capnp::word) == 0) {
      msg->source = py::reinterpret_borrow<py::object>(data);
      *words = kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(p), n / sizeof(capnp::word));
      return msg;
    }
  }
  Py_buffer view;
  if (PyUnicode_Check(data.ptr()) || PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    throw py::type_error("expected bytes-like message data, found " +
                         std::string(py::str(py::type::handle_of(data).attr("__name__"))));
  }
  size_t n = size_t(view.len);
  if (n % sizeof(capnp::word) != 0) {
    PyBuffer_Release(&view);
    throw CapnpError("a Cap'n Proto message is a whole number of 8-byte words; got " + std::to_string(n) + " bytes");
  }
  msg->copy = kj::heapArray<capnp::word>(n / sizeof(capnp::word));
  std::memcpy(msg->copy.begin(), view.buf, n);
  PyBuffer_Release(&view);
  *words = msg->copy.asPtr();
  return msg;
}

py::object from_bytes(const StructSchemaPy &s, py::handle data, py::object limit, py::object nesting) {
  kj::ArrayPtr<const capnp::word> words;
  auto msg = hold_bytes(data, &words);
  StructReader r = read_struct(s.schema(), msg, words, reader_options(limit, nesting));
  const capnp::word *end = msg->reader->getEnd();
  if (end != words.end()) {
    throw CapnpError(std::to_string((words.end() - end) * sizeof(capnp::word)) +
                     " bytes follow the message; use read_multiple_bytes() for concatenated messages");
  }
  return wrap(std::move(r));
}

py::list read_multiple_bytes(const StructSchemaPy &s, py::handle data, py::object limit, py::object nesting) {
  kj::ArrayPtr<const capnp::word> words;
  auto whole = hold_bytes(data, &words);
  capnp::ReaderOptions options = reader_options(limit, nesting);
  py::list out;
  while (words.size() > 0) {
    auto msg = std::make_shared<ReadMessage>();
    msg->external = whole;
    StructReader r = read_struct(s.schema(), msg, words, options);
    out.append(wrap(std::move(r)));
    words = kj::ArrayPtr<const capnp::word>(msg->reader->getEnd(), words.end());
  }
  return out;
}

StructBuilder new_message(const StructSchemaPy &s, py::kwargs kwargs) {
  auto msg = std::make_shared<BuiltMessage>();
  DynamicStruct::Builder root = msg->message.initRoot<DynamicStruct>(s.schema());
  set_fields(root, kwargs);
  return StructBuilder{msg, root, true};
}

capnp::JsonCodec &json_codec() {
  static capnp::JsonCodec codec;
  return codec;
}

StructBuilder from_json(const StructSchemaPy &s, const std::string &text) {
  auto msg = std::make_shared<BuiltMessage>();
  DynamicStruct::Builder root = msg->message.initRoot<DynamicStruct>(s.schema());
  std::string fixed = decode_unicode_escapes(text);
  json_codec().decode(kj::ArrayPtr<const char>(fixed.data(), fixed.size()), root);
  return StructBuilder{msg, root, true};
}

std::string to_json(DynamicStruct::Reader r, bool pretty) {
  capnp::JsonCodec codec;
  codec.setPrettyPrint(pretty);
  return codec.encode(capnp::DynamicValue::Reader(r), capnp::Type(r.getSchema())).cStr();
}

py::object which(DynamicStruct::Reader r) {
  if (r.getSchema().getUnionFields().size() == 0) {
    throw CapnpError(std::string(r.getSchema().getShortDisplayName().cStr()) + " has no union");
  }
  KJ_IF_MAYBE(active, r.which()) {
    return py::str(active->getProto().getName().cStr());
  }
  throw CapnpError(std::string(r.getSchema().getShortDisplayName().cStr()) +
                   ": the active union member is unknown to this schema (written by a newer one?)");
}

template <class Fields>
py::list field_names(Fields fields) {
  py::list out;
  for (auto f : fields) out.append(f.getProto().getName().cStr());
  return out;
}

std::string pretty(DynamicStruct::Reader r) {
  return capnp::prettyPrint(r).flatten().cStr();
}

}  // namespace

void bind_capnp(py::module_ &m) {
  static auto &capnp_error = py::register_exception<CapnpError>(m, "CapnpError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const kj::Exception &e) {
      // The description may quote message bytes: decode leniently.
      std::string what = "Cap'n Proto: " + std::string(e.getDescription().cStr());
      PyObject *text = PyUnicode_DecodeUTF8(what.data(), Py_ssize_t(what.size()), "replace");
      PyErr_SetObject(capnp_error.ptr(), text);
      Py_XDECREF(text);
    }
  });

  m.def("load_schema", &load_schema, py::arg("path"), py::arg("import_paths"),
        "Parses a .capnp file; returns its top-level structs, enums and constants by name.");

  py::class_<StructSchemaPy> struct_schema(m, "StructSchema");
  struct_schema
      .def("new_message", &new_message)
      .def("from_bytes", &from_bytes, py::arg("data"), py::arg("traversal_limit_in_words") = py::none(),
           py::arg("nesting_limit") = py::none())
      .def("read_multiple_bytes", &read_multiple_bytes, py::arg("data"),
           py::arg("traversal_limit_in_words") = py::none(), py::arg("nesting_limit") = py::none())
      .def("from_dict", [](const StructSchemaPy &s, py::dict d) { return new_message(s, py::kwargs(d)); })
      .def("from_json", &from_json)
      .def_property_readonly("name", [](const StructSchemaPy &s) { return std::string(s.type.getShortDisplayName().cStr()); })
      .def_property_readonly("field_info", [](const StructSchemaPy &s) {
        py::dict out;
        for (auto f : s.type.getFields()) {
          py::dict info = type_info(f.getType());
          info["union"] = f.getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT;
          out[f.getProto().getName().cStr()] = info;
        }
        return out;
      }, "{field: {'kind': 'uint32'|'text'|'data'|'enum'|'struct'|'list'|..., 'union': bool, "
         "'enumerants' (enum), 'schema' (struct), 'element' (list)}}")
      .def_property_readonly("fields", [](const StructSchemaPy &s) { return field_names(s.schema().getFields()); })
      .def_property_readonly("union_fields", [](const StructSchemaPy &s) { return field_names(s.schema().getUnionFields()); })
      .def("__getattr__", [](const StructSchemaPy &s, const std::string &name) {
        if (s.node) {
          KJ_IF_MAYBE(nested, s.node->findNested(name)) {
            return node_to_py(*nested);
          }
        }
        throw py::attribute_error(std::string(s.type.getShortDisplayName().cStr()) + " has no nested type or constant '" + name + "'");
      })
      .def("__eq__", [](const StructSchemaPy &a, const StructSchemaPy &b) { return a.type == b.type; })
      .def("__repr__", [](const StructSchemaPy &s) { return "<StructSchema " + std::string(s.type.getShortDisplayName().cStr()) + ">"; });

  py::class_<EnumSchemaPy> enum_schema(m, "EnumSchema");
  enum_schema
      .def_property_readonly("enumerants", [](const EnumSchemaPy &e) {
        py::dict out;
        for (auto en : e.node.asEnum().getEnumerants()) out[en.getProto().getName().cStr()] = en.getOrdinal();
        return out;
      })
      .def("__getattr__", [](const EnumSchemaPy &e, const std::string &name) {
        KJ_IF_MAYBE(en, e.node.asEnum().findEnumerantByName(name)) {
          return std::string(en->getProto().getName().cStr());
        }
        throw py::attribute_error(std::string(e.node.getShortDisplayName().cStr()) + " has no enumerant '" + name + "'");
      })
      .def("__repr__", [](const EnumSchemaPy &e) { return "<EnumSchema " + std::string(e.node.getShortDisplayName().cStr()) + ">"; });

  py::class_<StructReader> reader(m, "StructReader");
  reader
      .def("which", [](const StructReader &r) { return which(r.value); })
      .def("has", [](const StructReader &r, py::str name) {
        auto field = field_of(r.value.getSchema(), name);
        return r.value.has(field, capnp::HasMode::NON_DEFAULT);
      })
      .def("to_dict", [](const StructReader &r) { return to_plain(r.value); })
      .def("to_json", [](const StructReader &r, bool pretty) { return to_json(r.value, pretty); }, py::arg("pretty") = false)
      .def("to_bytes", [](const StructReader &r) { return serialize_struct(r.value); })
      .def("as_builder", [](const StructReader &r) {
        auto msg = std::make_shared<BuiltMessage>();
        msg->message.setRoot(r.value);
        return StructBuilder{msg, msg->message.getRoot<DynamicStruct>(r.value.getSchema()), true};
      })
      .def_property_readonly("schema", [](const StructReader &r) { return std::string(r.value.getSchema().getShortDisplayName().cStr()); })
      .def("__dir__", [](const StructReader &r) { return field_names(r.value.getSchema().getFields()); })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](py::object, py::args) { return false; })
      .def("__repr__", [](const StructReader &r) { return pretty(r.value); })
      .def("__str__", [](const StructReader &r) { return pretty(r.value); });

  py::class_<StructBuilder> builder(m, "StructBuilder");
  builder
      .def("init", [](StructBuilder &b, py::str name, py::object size) { return to_py(init_field(b.value, name, size), b.keep); },
           py::arg("name"), py::arg("size") = py::none())
      .def("which", [](const StructBuilder &b) { return which(b.value.asReader()); })
      .def("to_dict", [](const StructBuilder &b) { return to_plain(b.value.asReader()); })
      .def("to_json", [](const StructBuilder &b, bool pretty) { return to_json(b.value.asReader(), pretty); }, py::arg("pretty") = false)
      .def("to_bytes", [](StructBuilder &b) {
        if (!b.is_root) return serialize_struct(b.value.asReader());
        std::vector<uint64_t> out;
        size_t size = cereal::serialize(std::static_pointer_cast<BuiltMessage>(b.keep)->message, out);
        return py::bytes(reinterpret_cast<const char *>(out.data()), size);
      })
      .def("as_reader", [](const StructBuilder &b) { return StructReader{b.keep, b.value.asReader()}; })
      .def_property_readonly("schema", [](const StructBuilder &b) { return std::string(b.value.getSchema().getShortDisplayName().cStr()); })
      .def("__dir__", [](const StructBuilder &b) { return field_names(b.value.getSchema().getFields()); })
      .def("__repr__", [](const StructBuilder &b) { return pretty(b.value.asReader()); });

  py::class_<ListReader> list_reader(m, "ListReader");
  list_reader
      .def("__len__", [](const ListReader &l) { return l.value.size(); })
      .def("__getitem__", [](const ListReader &l, py::handle key) { return list_item(l, key); })
      .def("to_list", [](const ListReader &l) { return to_plain(l.value); })
      .def("__eq__", [](const ListReader &l, py::object other) { return to_plain(l.value).equal(other); })
      .def("__repr__", [](const ListReader &l) { return std::string(py::repr(to_plain(l.value))); });

  py::class_<ListBuilder> list_builder(m, "ListBuilder");
  list_builder
      .def("__len__", [](const ListBuilder &l) { return l.value.size(); })
      .def("__getitem__", [](ListBuilder &l, py::handle key) { return list_item(l, key); })
      .def("__setitem__", [](ListBuilder &l, Py_ssize_t i, py::handle value) {
        unsigned index = unsigned(list_index(l.value.size(), i));
        set_element(l.value, index, value, "list[" + std::to_string(index) + "]");
      })
      .def("init", [](ListBuilder &l, Py_ssize_t i, uint32_t size) {
        if (!l.value.getSchema().getElementType().isList()) throw py::type_error("init(i, n) is for lists of lists");
        return to_py(l.value.init(unsigned(list_index(l.value.size(), i)), size), l.keep);
      })
      .def("to_list", [](const ListBuilder &l) { return to_plain(l.value.asReader()); })
      .def("__eq__", [](const ListBuilder &l, py::object other) { return to_plain(l.value.asReader()).equal(other); })
      .def("__repr__", [](const ListBuilder &l) { return std::string(py::repr(to_plain(l.value.asReader()))); });

  install_field_slots(reader, builder);
  install_subscript_slots(list_reader, list_builder);
  for (py::handle type : std::initializer_list<py::handle>{struct_schema, enum_schema, reader, builder, list_reader, list_builder}) {
    conduit_py::refuse_construction(type);
  }
}

}  // namespace cereal_py
