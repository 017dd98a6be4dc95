#pragma once
// Guards for Python objects of pybind11-bound types whose C++ value may be
// missing. pybind11 hands a method uninitialized memory when an object's C++
// value was never constructed (X.__new__(X) without __init__); these make that
// a TypeError instead of a crash. Call once per type, right after binding it,
// with the interpreter lock held. Header-only: included by the Python modules
// alone (cereal, visionipc, loggerd, modeld).
#include <pybind11/pybind11.h>

#include <unordered_map>

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

// Iteration reaches __iter__ and __next__ through type slots, not through
// tp_getattro: require_init wraps those slots, and keeps the originals here.
struct IterSlots {
  getiterfunc iter = nullptr;
  iternextfunc next = nullptr;
};

inline std::unordered_map<PyTypeObject *, IterSlots> &wrapped_iter_slots() {
  static auto *slots = new std::unordered_map<PyTypeObject *, IterSlots>;  // lives as long as the types
  return *slots;
}

// The slots require_init saved for self's type, or for the guarded type it derives from.
inline const IterSlots &original_iter_slots(PyObject *self) {
  auto &slots = wrapped_iter_slots();
  for (PyTypeObject *t = Py_TYPE(self);; t = t->tp_base) {
    auto it = slots.find(t);
    if (it != slots.end()) return it->second;
  }
}

inline bool refuse_unconstructed(PyObject *self) {
  if (constructed(self)) return false;
  PyErr_Format(PyExc_TypeError, "%s object was never initialized (made by __new__ without __init__)",
               Py_TYPE(self)->tp_name);
  return true;
}

inline PyObject *initialized_iter(PyObject *self) {
  return refuse_unconstructed(self) ? nullptr : original_iter_slots(self).iter(self);
}

inline PyObject *initialized_iternext(PyObject *self) {
  return refuse_unconstructed(self) ? nullptr : original_iter_slots(self).next(self);
}

inline PyObject *initialized_getattro(PyObject *self, PyObject *name) {
  if (!is_dunder(name) && refuse_unconstructed(self)) return nullptr;
  return PyObject_GenericGetAttr(self, name);
}

// Routes attribute access and iteration of t's instances through the checks
// above; slots a subclass defines itself in Python are wrapped as well.
inline void guard_slots(PyTypeObject *t) {
  if (t->tp_getattro == PyObject_GenericGetAttr) t->tp_getattro = initialized_getattro;
  if ((t->tp_iter != nullptr && t->tp_iter != initialized_iter) ||
      (t->tp_iternext != nullptr && t->tp_iternext != initialized_iternext)) {
    wrapped_iter_slots()[t] = {t->tp_iter, t->tp_iternext};
    if (t->tp_iter != nullptr) t->tp_iter = initialized_iter;
    if (t->tp_iternext != nullptr) t->tp_iternext = initialized_iternext;
  }
  PyType_Modified(t);
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
// client, log file reader, model runners): using an instance whose __init__
// never ran, by attribute or by iterating it, raises TypeError (dunder names
// stay reachable, so __init__ can still be called). Python subclasses too.
inline void require_init(pybind11::handle type) {
  detail::guard_slots(reinterpret_cast<PyTypeObject *>(type.ptr()));
  // A Python subclass gets its slots anew, from the names it finds on its bases,
  // which bypasses the guarded ones: guard each subclass as it is created.
  pybind11::cpp_function guard_subclass([](pybind11::handle cls, pybind11::kwargs kwargs) {
    if (!kwargs.empty()) throw pybind11::type_error("__init_subclass__() takes no keyword arguments");
    detail::guard_slots(reinterpret_cast<PyTypeObject *>(cls.ptr()));
  });
  pybind11::object init_subclass = pybind11::reinterpret_steal<pybind11::object>(PyClassMethod_New(guard_subclass.ptr()));
  if (!init_subclass) throw pybind11::error_already_set();
  type.attr("__init_subclass__") = init_subclass;
}

}  // namespace conduit_py
