#pragma once
// pybind11's casts between Python objects and bound C++ types, without its
// per-cast type lookup: pybind11 finds a type's record by hashing the type's
// mangled name, on every cast (a few hundred instructions), and reading or
// writing one message field casts two or three times. These look the record
// up once per type. T must be bound (py::class_<T>) before their first use.
// Threads: call with the GIL held, as any pybind11 cast.
#include <string>
#include <utility>

#include <pybind11/pybind11.h>

namespace cereal_py {

template <class T>
const pybind11::detail::type_info *bound_type() {
  static const pybind11::detail::type_info *const type = pybind11::detail::get_type_info(typeid(T), true);
  return type;
}

// The T that `obj` wraps, or nullptr when it wraps none: another type, or an
// instance whose T was never constructed (pybind11's own casts would hand out
// uninitialized memory for that one).
template <class T>
T *wrapped(pybind11::handle obj) {
  const pybind11::detail::type_info *type = bound_type<T>();
  if (!PyObject_TypeCheck(obj.ptr(), type->type)) return nullptr;
  auto held = reinterpret_cast<pybind11::detail::instance *>(obj.ptr())->get_value_and_holder(type, false);
  return held && held.holder_constructed() ? static_cast<T *>(held.value_ptr()) : nullptr;
}

// The T that `obj` wraps; TypeError when it wraps none.
template <class T>
T &unwrap(pybind11::handle obj) {
  if (T *value = wrapped<T>(obj)) return *value;
  throw pybind11::type_error(std::string("expected a ") + bound_type<T>()->type->tp_name + ", found " +
                             Py_TYPE(obj.ptr())->tp_name);
}

// A new Python object owning `value` (moved in).
template <class T>
pybind11::object wrap(T &&value) {
  auto move = [](const void *p) -> void * { return new T(std::move(*static_cast<T *>(const_cast<void *>(p)))); };
  return pybind11::reinterpret_steal<pybind11::object>(pybind11::detail::type_caster_generic::cast(
      &value, pybind11::return_value_policy::move, {}, bound_type<T>(), nullptr, move));
}

}  // namespace cereal_py
