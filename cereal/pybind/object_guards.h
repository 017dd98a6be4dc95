#pragma once
// Guards for Python objects of bound types whose C++ value may be missing.
// pybind11 hands a method uninitialized memory when an object's C++ value was
// never constructed (X.__new__(X) without __init__); these make that a
// TypeError instead of a crash. Call once per type, right after binding it.
#include <pybind11/pybind11.h>

namespace cereal_py {

// For types only C++ creates (schemas, readers, builders, lists): X.__new__(X)
// raises TypeError.
void refuse_construction(pybind11::handle type);

// For types Python constructs (sockets, poller, SubMaster): using an instance
// whose __init__ never ran raises TypeError (dunder names stay reachable, so
// __init__ can still be called).
void require_init(pybind11::handle type);

}  // namespace cereal_py
