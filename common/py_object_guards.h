#pragma once
// Guards for Python objects of pybind11-bound types whose C++ value may be
// missing. pybind11 hands a method uninitialized memory when an object's C++
// value was never constructed (X.__new__(X) without __init__); these make that
// a TypeError instead of a crash. Call once per type, right after binding it.
// Header-only: included by the Python modules alone (cereal, visionipc).
#include <pybind11/pybind11.h>

namespace conduit_py {

namespace detail {

inline bool constructed(PyObject *self) {
  auto *instance = reinterpret_cast<pybind11::detail::instance *>(self);
  return instance->get_value_and_holder(nullptr, false).holder_constructed();
}

inline bool is_dunder(PyObject *name) {
  return PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) > 4 && PyUnicode_READ_CHAR(name, 0) == '_' &&
         PyUnicode_READ_CHAR(name, 1) == '_';
}

inline PyObject *initialized_getattro(PyObject *self, PyObject *name) {
  if (!constructed(self) && !is_dunder(name)) {
    PyErr_Format(PyExc_TypeError, "%s object was never initialized (made by __new__ without __init__)",
                 Py_TYPE(self)->tp_name);
    return nullptr;
  }
  return PyObject_GenericGetAttr(self, name);
}

inline PyObject *refuse_new(PyTypeObject *type, PyObject *, PyObject *) {
  PyErr_Format(PyExc_TypeError, "%s objects are made by the library; they cannot be created directly", type->tp_name);
  return nullptr;
}

}  // namespace detail

// For types only C++ creates (capnp schemas, readers, builders, lists; vision
// buffers): X.__new__(X) raises TypeError.
inline void refuse_construction(pybind11::handle type) {
  auto *t = reinterpret_cast<PyTypeObject *>(type.ptr());
  t->tp_new = detail::refuse_new;
  PyType_Modified(t);
}

// For types Python constructs (sockets, poller, SubMaster, VisionIPC server and
// client): using an instance whose __init__ never ran raises TypeError (dunder
// names stay reachable, so __init__ can still be called).
inline void require_init(pybind11::handle type) {
  auto *t = reinterpret_cast<PyTypeObject *>(type.ptr());
  t->tp_getattro = detail::initialized_getattro;
  PyType_Modified(t);
}

}  // namespace conduit_py
