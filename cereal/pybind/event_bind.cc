// new_event(): cereal.messaging.new_message's Event, made in one call. A plain
// CPython function (no pybind11 dispatch): publishing loops call it once per
// message, and dispatching, a dict of arguments and two dynamic field sets
// would cost more than the message itself.
#include "cereal/messaging.h"
#include "cereal/pybind/bindings.h"
#include "cereal/pybind/capnp_values.h"
#include "cereal/pybind/fast_cast.h"

namespace cereal_py {

namespace {

// new_event(event_schema, service, size, fields[, lender]): an Event builder
// stamped now (logMonoTime, CLOCK_MONOTONIC ns), not valid, with the union
// member `service` initialized (a list of `size`) unless service is None or
// among `fields`, then `fields` (a dict) set. event_schema is cereal.log.Event:
// it is built with the compiled Event and read through the parsed one, which
// lay it out alike. lender: None, or the PubSocket of a loan service, which
// then lends the memory it is built in (the services table's loan bytes).
PyObject *new_event(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
  return guarded([&]() -> PyObject * {
    if ((nargs != 4 && nargs != 5) || !PyDict_Check(args[3])) {
      throw py::type_error("new_event(event_schema, service, size, fields[, lender]) takes 4 or 5 arguments, fields a dict");
    }
    capnp::StructSchema schema = unwrap<StructSchemaPy>(args[0]).schema();
    if (schema.getProto().getId() != capnp::typeId<cereal::Event>()) {
      throw py::type_error("new_event: expected the Event schema of cereal/log.capnp, found " +
                           std::string(schema.getShortDisplayName().cStr()));
    }
    std::shared_ptr<BuiltMessage> msg;
    if (nargs == 5 && args[4] != Py_None) {
      const cereal::Service &service = cereal::service(py::cast<std::string>(py::handle(args[1])));
      msg = message_in_loan(args[4], service.loan);
    } else {
      msg = std::make_shared<BuiltMessage>();
    }
    msg->message.initEvent(/*valid=*/false);  // as openpilot's new_message: valid is the sender's claim
    auto event = msg->message.getRoot<capnp::DynamicStruct>(schema);
    const int service_in_fields = args[1] == Py_None ? 0 : PyDict_Contains(args[3], args[1]);
    if (service_in_fields < 0) throw py::error_already_set();
    if (args[1] != Py_None && !service_in_fields) init_field(event, args[1], args[2]);
    set_fields(event, args[3]);
    return wrap(StructBuilder{std::move(msg), event, true}).release().ptr();
  });
}

PyMethodDef new_event_def = {"new_event", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(new_event)),
                             METH_FASTCALL,
                             "new_event(event_schema, service, size, fields, lender=None)\n--\n\n"
                             "An Event builder stamped now, valid=False, with `service` initialized (a list of `size`) "
                             "unless it is None or among `fields`, then `fields` set; built in a loan of `lender` "
                             "(a PubSocket) when given."};

}  // namespace

void bind_event(py::module_ &m) {
  PyObject *fn = PyCFunction_NewEx(&new_event_def, nullptr, m.attr("__name__").ptr());
  if (fn == nullptr) throw py::error_already_set();
  m.add_object("new_event", py::reinterpret_steal<py::object>(fn));
}

}  // namespace cereal_py
