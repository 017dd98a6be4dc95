#include "cereal/pybind/type_slots.h"

#include <string>

#include "cereal/pybind/bindings.h"
#include "cereal/pybind/fast_cast.h"

namespace cereal_py {

size_t list_index(size_t size, Py_ssize_t i) {
  Py_ssize_t n = Py_ssize_t(size);
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw py::index_error("list index " + std::to_string(i) + " out of range for length " + std::to_string(n));
  return size_t(i);
}

size_t list_index(size_t size, py::handle key) {
  if (!PyIndex_Check(key.ptr())) {
    throw py::type_error(std::string("list indices must be integers or slices, not ") + Py_TYPE(key.ptr())->tp_name);
  }
  Py_ssize_t i = PyNumber_AsSsize_t(key.ptr(), PyExc_IndexError);
  if (i == -1 && PyErr_Occurred()) throw py::error_already_set();
  return list_index(size, i);
}

// list[key]: one element (a negative index counts from the end) or, on a
// reader, a Python list of a slice's elements.
py::object list_item(const ListReader &l, py::handle key) {
  if (PySlice_Check(key.ptr())) {
    size_t start, stop, step, n;
    if (!py::reinterpret_borrow<py::slice>(key).compute(l.value.size(), &start, &stop, &step, &n)) throw py::error_already_set();
    py::list out;
    for (size_t k = 0; k < n; ++k, start += step) out.append(to_py(l.value[unsigned(start)], l.keep));
    return out;
  }
  return to_py(l.value[unsigned(list_index(l.value.size(), key))], l.keep);
}

py::object list_item(ListBuilder &l, py::handle key) {
  return to_py(l.value[unsigned(list_index(l.value.size(), key))], l.keep);
}

namespace {

// Whether `name` is a method or property of self's type rather than a field.
bool class_attribute(PyObject *self, PyObject *name) {
  if (!PyUnicode_Check(name)) throw py::type_error("attribute name must be str");
  return _PyType_Lookup(Py_TYPE(self), name) != nullptr;
}

PyObject *reader_getattro(PyObject *self, PyObject *name) {
  return guarded([&]() -> PyObject * {
    const StructReader &r = unwrap<StructReader>(self);
    if (class_attribute(self, name)) return PyObject_GenericGetAttr(self, name);
    return to_py(r.value.get(readable_field(r.value, name)), r.keep).release().ptr();
  });
}

PyObject *builder_getattro(PyObject *self, PyObject *name) {
  return guarded([&]() -> PyObject * {
    StructBuilder &b = unwrap<StructBuilder>(self);
    if (class_attribute(self, name)) return PyObject_GenericGetAttr(self, name);
    return to_py(b.value.get(readable_field(b.value.asReader(), name)), b.keep).release().ptr();
  });
}

int builder_setattro(PyObject *self, PyObject *name, PyObject *value) {
  PyObject *ok = guarded([&]() -> PyObject * {
    StructBuilder &b = unwrap<StructBuilder>(self);
    if (class_attribute(self, name)) {
      if (PyObject_GenericSetAttr(self, name, value) != 0) throw py::error_already_set();
    } else if (auto field = field_of(b.value.getSchema(), name); value == nullptr) {
      throw py::type_error(field_path(field) + ": fields cannot be deleted");
    } else {
      set_field(b.value, field, value);
    }
    Py_RETURN_NONE;
  });
  if (ok == nullptr) return -1;
  Py_DECREF(ok);
  return 0;
}

int reader_setattro(PyObject *self, PyObject *name, PyObject *value) {
  PyErr_SetString(PyExc_AttributeError, "a message reader is read-only: use as_builder() to change it");
  return -1;
}

}  // namespace

void install_field_slots(py::handle reader, py::handle builder) {
  auto *r = reinterpret_cast<PyTypeObject *>(reader.ptr());
  r->tp_getattro = reader_getattro;
  r->tp_setattro = reader_setattro;
  PyType_Modified(r);
  auto *b = reinterpret_cast<PyTypeObject *>(builder.ptr());
  b->tp_getattro = builder_getattro;
  b->tp_setattro = builder_setattro;
  PyType_Modified(b);
}

namespace {

template <class List>
void install_subscript_slot(py::handle list) {
  auto *type = reinterpret_cast<PyTypeObject *>(list.ptr());
  type->tp_as_mapping->mp_subscript = [](PyObject *self, PyObject *key) {
    return guarded([&] { return list_item(unwrap<List>(self), key).release().ptr(); });
  };
  PyType_Modified(type);
}

}  // namespace

void install_subscript_slots(py::handle list_reader, py::handle list_builder) {
  install_subscript_slot<ListReader>(list_reader);
  install_subscript_slot<ListBuilder>(list_builder);
}



}  // namespace cereal_py
