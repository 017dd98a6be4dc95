// cereal._cereal: msgq sockets, the Cap'n Proto binding and the C++ SubMaster
// for Python. The public API is cereal.messaging and cereal.log.
#include "cereal/pybind/bindings.h"

PYBIND11_MODULE(_cereal, m) {
  m.doc() = "conduit cereal: msgq sockets and a Cap'n Proto binding (use cereal.messaging)";
  cereal_py::bind_capnp(m);
  cereal_py::bind_msgq(m);
  cereal_py::bind_submaster(m);
  cereal_py::bind_event(m);
}
