// The C++ SubMaster for Python (cereal.messaging.SubMaster wraps it). update()
// releases the GIL only to wait; sm[name] reads the received bytes in place.
#include <climits>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "cereal/messaging.h"
#include "cereal/pybind/bindings.h"
#include "cereal/pybind/capnp_values.h"
#include "cereal/pybind/fast_cast.h"
#include "common/py_object_guards.h"

namespace cereal_py {

namespace {

class SubMasterPy {
 public:
  SubMasterPy(const std::vector<std::string> &services, const std::vector<std::string> &poll,
              const std::vector<std::string> &ignore_alive, bool conflate, StructSchemaPy event, const std::string &addr,
              double frequency)
      : sm_(services, poll, ignore_alive, conflate, addr, frequency), event_(event.schema()), readers_(services.size()) {
    for (size_t i = 0; i < services.size(); ++i) {
      index_[services[i]] = i;
      keys_.push_back(py::reinterpret_steal<py::str>(PyUnicode_InternFromString(services[i].c_str())));
    }
    publish_state();
  }

  // Takes what is waiting with the GIL held and releases it only to wait.
  void update(int timeout_ms, std::optional<uint64_t> now_ns) {
    try {
      if (!sm_.beginUpdate(now_ns) && timeout_ms != 0) {
        py::gil_scoped_release release;
        sm_.wait(timeout_ms);
      }
      sm_.endUpdate(now_ns);
    } catch (...) {
      publish_state();  // services taken before the error must not keep a stale reader
      throw;
    }
    publish_state();
  }

  // Plain dicts {service: bool} kept current by every update(): reading them is
  // a dict lookup, as in openpilot. Only entries whose value changed are written.
  py::dict updated, alive, valid, freq_ok;
  // The Python SubMaster's cache of sm[name] {service: member reader}: an
  // update drops the entries of the services it took a message of.
  py::dict members;

  // The newest Event of `name` (a default one with that member set before the
  // first message). Cached until the next message of that service.
  py::object get(const std::string &name) {
    size_t i = index(name);
    if (readers_[i]) return readers_[i];
    auto received = sm_.message(name);
    if (received) {
      auto msg = std::make_shared<ReadMessage>();
      msg->external = received;
      // A loan topic's message lies in the subscriber's ring: the reader keeps the SubMaster alive.
      if (received->in_place) msg->source = py::cast(this, py::return_value_policy::reference);
      readers_[i] = wrap(read_struct(event_, msg, received->words(), capnp::ReaderOptions()));
    } else {
      auto msg = std::make_shared<BuiltMessage>();
      auto root = msg->message.initRoot<capnp::DynamicStruct>(event_);
      auto field = field_of(event_, keys_[i]);
      if (field.getType().isList()) root.init(field, 0);
      else root.init(field);
      readers_[i] = wrap(StructReader{msg, root.asReader()});
    }
    return readers_[i];
  }

  py::list updated_services() const {
    py::list out;
    for (const std::string &name : sm_.services()) {
      if (sm_.updated(name)) out.append(name);
    }
    return out;
  }

  cereal::SubMaster &sm() { return sm_; }

 private:
  void publish_state() {
    for (size_t i = 0; i < keys_.size(); ++i) {
      const cereal::SubMaster::Status st = sm_.status(i);
      set(updated, i, st.updated);
      set(alive, i, st.alive);
      set(valid, i, st.valid);
      set(freq_ok, i, st.freq_ok);
      if (st.updated) {
        readers_[i] = py::object();
        // Looked up first (deleting an absent key would raise and clear a KeyError),
        // and only when something is cached: a loop that never reads sm[name] pays nothing.
        if (PyDict_GET_SIZE(members.ptr()) != 0 && PyDict_GetItem(members.ptr(), keys_[i].ptr()) != nullptr &&
            PyDict_DelItem(members.ptr(), keys_[i].ptr()) != 0) {
          throw py::error_already_set();
        }
      }
    }
  }

  // d[keys_[i]] = value, unless it already is: the bools are singletons.
  void set(py::dict &d, size_t i, bool value) {
    PyObject *v = value ? Py_True : Py_False;
    if (PyDict_GetItem(d.ptr(), keys_[i].ptr()) == v) return;
    if (PyDict_SetItem(d.ptr(), keys_[i].ptr(), v) != 0) throw py::error_already_set();
  }

  std::vector<py::str> keys_;
  size_t index(const std::string &name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw py::key_error("SubMaster is not subscribed to '" + name + "'");
    return it->second;
  }

  cereal::SubMaster sm_;
  capnp::StructSchema event_;
  std::vector<py::object> readers_;
  std::map<std::string, size_t> index_;
};

// --- update() as a plain CPython function ---
// When a message is waiting, an update costs less than pybind11's argument
// dispatch would, so the Python SubMaster calls this METH_FASTCALL function,
// bound to a capsule that holds the SubMasterPy and keeps its owner alive.

constexpr const char *kCapsuleName = "cereal._cereal.SubMaster";

PyObject *fast_update(PyObject *capsule, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  auto *sm = static_cast<SubMasterPy *>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (sm == nullptr) return nullptr;
  PyObject *timeout = nullptr, *now = nullptr;
  if (nargs > 2) {
    PyErr_Format(PyExc_TypeError, "update() takes at most 2 arguments (timeout, now_ns), %zd given", nargs);
    return nullptr;
  }
  if (nargs > 0) timeout = args[0];
  if (nargs > 1) now = args[1];
  for (Py_ssize_t i = 0; kwnames != nullptr && i < PyTuple_GET_SIZE(kwnames); ++i) {
    PyObject *key = PyTuple_GET_ITEM(kwnames, i);
    PyObject **slot = PyUnicode_CompareWithASCIIString(key, "timeout") == 0  ? &timeout
                      : PyUnicode_CompareWithASCIIString(key, "now_ns") == 0 ? &now
                                                                              : nullptr;
    if (slot == nullptr || *slot != nullptr) {
      PyErr_Format(PyExc_TypeError, "update() got %s argument '%U'", slot ? "a repeated" : "an unexpected", key);
      return nullptr;
    }
    *slot = args[nargs + i];
  }
  int timeout_ms = 100;
  if (timeout != nullptr) {
    int overflow = 0;
    long t = PyLong_AsLongAndOverflow(timeout, &overflow);
    if (t == -1 && PyErr_Occurred()) return nullptr;
    if (overflow != 0 || t < INT_MIN || t > INT_MAX) {
      PyErr_SetString(PyExc_OverflowError, "update(): timeout does not fit an int (ms)");
      return nullptr;
    }
    timeout_ms = int(t);
  }
  std::optional<uint64_t> now_ns;
  if (now != nullptr && now != Py_None) {
    if (!PyLong_Check(now)) {
      PyErr_Format(PyExc_TypeError, "update(): now_ns is an int (ns) or None, found %s", Py_TYPE(now)->tp_name);
      return nullptr;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(now);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return nullptr;
    now_ns = v;
  }
  return guarded([&]() -> PyObject * {
    sm->update(timeout_ms, now_ns);
    Py_RETURN_NONE;
  });
}

PyMethodDef fast_update_def = {
    "update", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(fast_update)),
    METH_FASTCALL | METH_KEYWORDS,
    "update($module, timeout=100, now_ns=None)\n--\n\n"
    "Waits up to timeout ms (0: no wait, -1: forever) for a polled service, then takes at most one new "
    "message per service. now_ns replaces this update's receive time (replay, tests)."};

// The update function bound to `self` (a SubMaster); holds a reference to it.
py::object bound_update(py::object self) {
  auto *sm = self.cast<SubMasterPy *>();
  PyObject *capsule = PyCapsule_New(sm, kCapsuleName, [](PyObject *c) { Py_XDECREF(static_cast<PyObject *>(PyCapsule_GetContext(c))); });
  if (capsule == nullptr) throw py::error_already_set();
  auto owner = py::reinterpret_steal<py::object>(capsule);
  if (PyCapsule_SetContext(capsule, self.inc_ref().ptr()) != 0) {
    self.dec_ref();
    throw py::error_already_set();
  }
  PyObject *fn = PyCFunction_NewEx(&fast_update_def, capsule, nullptr);
  if (fn == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(fn);
}

std::vector<std::string> names_or_all(py::object names) {
  if (names.is_none()) return {};
  return py::cast<std::vector<std::string>>(names);
}

}  // namespace

void bind_submaster(py::module_ &m) {
  using S = SubMasterPy;
  py::class_<S> sub_master(m, "SubMaster");
  sub_master
      .def(py::init<const std::vector<std::string> &, const std::vector<std::string> &,
                    const std::vector<std::string> &, bool, StructSchemaPy, const std::string &, double>(),
           py::arg("services"), py::arg("poll"), py::arg("ignore_alive"), py::arg("conflate"), py::arg("event_schema"),
           py::arg("addr") = "", py::arg("frequency") = 0.0)
      .def("bound_update", &bound_update,
           "The update(timeout=100, now_ns=None) function of this SubMaster (a plain CPython function: "
           "no pybind11 dispatch per call)")
      .def_readonly("updated_dict", &S::updated)
      .def_readonly("alive_dict", &S::alive)
      .def_readonly("valid_dict", &S::valid)
      .def_readonly("freq_ok_dict", &S::freq_ok)
      .def_readonly("members_dict", &S::members)
      .def("get", &S::get)
      .def("updated_services", &S::updated_services)
      .def("updated", [](S &s, const std::string &n) { return s.sm().updated(n); })
      .def("alive", [](S &s, const std::string &n) { return s.sm().alive(n); })
      .def("valid", [](S &s, const std::string &n) { return s.sm().valid(n); })
      .def("freq_ok", [](S &s, const std::string &n) { return s.sm().freq_ok(n); })
      .def("rcv_time", [](S &s, const std::string &n) { return s.sm().rcv_time(n); })
      .def("rcv_time_s", [](S &s, const std::string &n) { return double(s.sm().rcv_time(n)) * 1e-9; })
      .def("rcv_frame", [](S &s, const std::string &n) { return s.sm().rcv_frame(n); })
      .def("logMonoTime", [](S &s, const std::string &n) { return s.sm().logMonoTime(n); })
      .def("bad_messages", [](S &s, const std::string &n) { return s.sm().bad_messages(n); })
      .def("lost", [](S &s, const std::string &n) { return s.sm().lost(n); })
      .def("intact", [](S &s, const std::string &n) { return s.sm().intact(n); })
      .def("frame", [](S &s) { return s.sm().frame(); })
      .def("socket", [](py::object self, const std::string &n) {
             return borrowed_sub_socket(self, py::cast<S &>(self).sm().socket(n));
           }, "The SubSocket of service `n` (it belongs to this SubMaster).")
      .def("all_alive", [](S &s, py::object names) { return s.sm().allAlive(names_or_all(names)); }, py::arg("names") = py::none())
      .def("all_valid", [](S &s, py::object names) { return s.sm().allValid(names_or_all(names)); }, py::arg("names") = py::none())
      .def("all_freq_ok", [](S &s, py::object names) { return s.sm().allFreqOk(names_or_all(names)); }, py::arg("names") = py::none());
  conduit_py::require_init(sub_master);
}

}  // namespace cereal_py
