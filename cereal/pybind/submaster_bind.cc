// The C++ SubMaster for Python (cereal.messaging.SubMaster wraps it). update()
// runs without the GIL; sm[name] reads the received bytes in place.
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "cereal/messaging.h"
#include "cereal/pybind/bindings.h"
#include "cereal/pybind/capnp_values.h"

namespace cereal_py {

namespace {

class SubMasterPy {
 public:
  SubMasterPy(const std::vector<std::string> &services, const std::vector<std::string> &poll,
              const std::vector<std::string> &ignore_alive, bool conflate, StructSchemaPy event)
      : sm_(services, poll, ignore_alive, conflate), event_(event.schema()), readers_(services.size()) {
    for (size_t i = 0; i < services.size(); ++i) index_[services[i]] = i;
  }

  void update(int timeout_ms, py::object now_ns) {
    {
      py::gil_scoped_release release;
      if (now_ns.is_none()) sm_.update(timeout_ms);
      else sm_.update(timeout_ms, py::cast<uint64_t>(now_ns));
    }
    const auto &names = sm_.services();
    for (size_t i = 0; i < names.size(); ++i) {
      if (sm_.updated(names[i])) readers_[i] = py::object();
    }
  }

  // The newest Event of `name` (a default one with that member set before the
  // first message). Cached until the next message of that service.
  py::object get(const std::string &name) {
    size_t i = index(name);
    if (readers_[i]) return readers_[i];
    auto received = sm_.message(name);
    if (received) {
      auto msg = std::make_shared<ReadMessage>();
      msg->external = received;
      kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word *>(received->bytes.data()),
                                            received->bytes.size() / sizeof(capnp::word));
      readers_[i] = py::cast(read_struct(event_, msg, words, capnp::ReaderOptions()));
    } else {
      auto msg = std::make_shared<BuiltMessage>();
      auto root = msg->message.initRoot<capnp::DynamicStruct>(event_);
      auto field = field_of(event_, name);
      if (field.getType().isList()) root.init(field, 0);
      else root.init(field);
      readers_[i] = py::cast(StructReader{msg, root.asReader()});
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

std::vector<std::string> names_or_all(py::object names) {
  if (names.is_none()) return {};
  return py::cast<std::vector<std::string>>(names);
}

}  // namespace

void bind_submaster(py::module_ &m) {
  using S = SubMasterPy;
  py::class_<S>(m, "SubMaster")
      .def(py::init<const std::vector<std::string> &, const std::vector<std::string> &,
                    const std::vector<std::string> &, bool, StructSchemaPy>(),
           py::arg("services"), py::arg("poll"), py::arg("ignore_alive"), py::arg("conflate"), py::arg("event_schema"))
      .def("update", &S::update, py::arg("timeout_ms"), py::arg("now_ns") = py::none())
      .def("get", &S::get)
      .def("updated_services", &S::updated_services)
      .def("updated", [](S &s, const std::string &n) { return s.sm().updated(n); })
      .def("alive", [](S &s, const std::string &n) { return s.sm().alive(n); })
      .def("valid", [](S &s, const std::string &n) { return s.sm().valid(n); })
      .def("freq_ok", [](S &s, const std::string &n) { return s.sm().freq_ok(n); })
      .def("rcv_time", [](S &s, const std::string &n) { return s.sm().rcv_time(n); })
      .def("rcv_frame", [](S &s, const std::string &n) { return s.sm().rcv_frame(n); })
      .def("logMonoTime", [](S &s, const std::string &n) { return s.sm().logMonoTime(n); })
      .def("bad_messages", [](S &s, const std::string &n) { return s.sm().bad_messages(n); })
      .def("lost", [](S &s, const std::string &n) { return s.sm().lost(n); })
      .def("frame", [](S &s) { return s.sm().frame(); })
      .def("all_alive", [](S &s, py::object names) { return s.sm().allAlive(names_or_all(names)); }, py::arg("names") = py::none())
      .def("all_valid", [](S &s, py::object names) { return s.sm().allValid(names_or_all(names)); }, py::arg("names") = py::none())
      .def("all_freq_ok", [](S &s, py::object names) { return s.sm().allFreqOk(names_or_all(names)); }, py::arg("names") = py::none());
}

}  // namespace cereal_py
