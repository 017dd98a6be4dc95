#pragma once
// The parts of the cereal._cereal Python module (cereal/pybind/module.cc).
#include <memory>

#include <pybind11/pybind11.h>

#include "msgq/msgq.h"

namespace cereal_py {

struct BuiltMessage;
// A message builder over a loan of `capacity` bytes from `pub_socket` (a
// PubSocket), or an ordinary one when that socket has a loan out: msgq_bind.cc.
std::shared_ptr<BuiltMessage> message_in_loan(pybind11::handle pub_socket, size_t capacity);
// A SubSocket over `sock`, which `owner` holds and the result keeps alive: msgq_bind.cc.
pybind11::object borrowed_sub_socket(pybind11::object owner, msgq::SubSocket &sock);
// The view `obj` wraps when it is a MessageView, else nullptr: msgq_bind.cc.
const msgq::MessageView *message_view_in(pybind11::handle obj);

void bind_capnp(pybind11::module_ &m);      // schemas, readers, builders: capnp_bind.cc
void bind_msgq(pybind11::module_ &m);       // sockets and poller: msgq_bind.cc
void bind_submaster(pybind11::module_ &m);  // the C++ SubMaster: submaster_bind.cc
void bind_event(pybind11::module_ &m);      // new_event(): event_bind.cc

// Runs f() (a PyObject* result) for a function CPython calls directly, outside
// pybind11's dispatcher: a C++ exception becomes the Python error pybind11's
// translators give it (MsgqError, CapnpError, ValueError, ...), and nullptr.
template <class F>
PyObject *guarded(F &&f) {
  try {
    return f();
  } catch (pybind11::error_already_set &e) {
    e.restore();
  } catch (...) {
    namespace d = pybind11::detail;
    if (!d::apply_exception_translators(d::get_local_internals().registered_exception_translators) &&
        !d::apply_exception_translators(d::get_internals().registered_exception_translators)) {
      PyErr_SetString(PyExc_SystemError, "cereal: unknown C++ exception");
    }
  }
  return nullptr;
}

}  // namespace cereal_py
