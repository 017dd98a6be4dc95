#pragma once
// The parts of the cereal._cereal Python module (cereal/pybind/module.cc).
#include <pybind11/pybind11.h>

namespace cereal_py {

void bind_capnp(pybind11::module_ &m);      // schemas, readers, builders: capnp_bind.cc
void bind_msgq(pybind11::module_ &m);       // sockets and poller: msgq_bind.cc
void bind_submaster(pybind11::module_ &m);  // the C++ SubMaster: submaster_bind.cc

}  // namespace cereal_py
