#pragma once
// Field and index access for the Cap'n Proto reader, builder and list classes
// (capnp_bind.cc). Field access is the hot path of every reader and builder, so
// it gets the CPython type slots directly: a name that is not a method or
// property is looked up as a field, without pybind11's dispatcher or a failed
// generic lookup first; indexing a list likewise. Install once, right after
// the classes are created; with the GIL held.
#include <pybind11/pybind11.h>

#include "cereal/pybind/capnp_values.h"

namespace cereal_py {

namespace py = pybind11;

// An index into a list of `size` (negative counts from the end); throws
// IndexError out of range, TypeError for a key that is no integer.
size_t list_index(size_t size, Py_ssize_t i);
size_t list_index(size_t size, py::handle key);
// list[key]: one element or, on a reader, a Python list of a slice's elements.
py::object list_item(const ListReader &l, py::handle key);
py::object list_item(ListBuilder &l, py::handle key);

void install_field_slots(py::handle reader, py::handle builder);
// __getitem__ stays for the sequence protocol (iteration).
void install_subscript_slots(py::handle list_reader, py::handle list_builder);

}  // namespace cereal_py
