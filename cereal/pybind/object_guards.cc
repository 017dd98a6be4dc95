#include "cereal/pybind/object_guards.h"

namespace cereal_py {

namespace {

PyTypeObject *type_object(pybind11::handle type) { return reinterpret_cast<PyTypeObject *>(type.ptr()); }

PyObject *refuse_new(PyTypeObject *type, PyObject *, PyObject *) {
  PyErr_Format(PyExc_TypeError, "%s objects come from schemas and messages; they cannot be created directly",
               type->tp_name);
  return nullptr;
}

bool constructed(PyObject *self) {
  auto *instance = reinterpret_cast<pybind11::detail::instance *>(self);
  return instance->get_value_and_holder(nullptr, false).holder_constructed();
}

bool is_dunder(PyObject *name) {
  return PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) > 4 && PyUnicode_READ_CHAR(name, 0) == '_' &&
         PyUnicode_READ_CHAR(name, 1) == '_';
}

PyObject *initialized_getattro(PyObject *self, PyObject *name) {
  if (!constructed(self) && !is_dunder(name)) {
    PyErr_Format(PyExc_TypeError, "%s object was never initialized (made by __new__ without __init__)",
                 Py_TYPE(self)->tp_name);
    return nullptr;
  }
  return PyObject_GenericGetAttr(self, name);
}

}  // namespace

void refuse_construction(pybind11::handle type) {
  type_object(type)->tp_new = refuse_new;
  PyType_Modified(type_object(type));
}

void require_init(pybind11::handle type) {
  type_object(type)->tp_getattro = initialized_getattro;
  PyType_Modified(type_object(type));
}

}  // namespace cereal_py
