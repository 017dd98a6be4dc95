// Python binding of the log file layer: loggerd.logreader builds LogReader on it.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "cereal/event_check.h"
#include "common/py_object_guards.h"
#include "loggerd/log_file_reader.h"
#include "loggerd/route.h"
#include "loggerd/writer.h"
#include "loggerd/zstd_log_file.h"

namespace py = pybind11;

PYBIND11_MODULE(logreader_ext, m) {
  m.doc() = "zstd/raw log files of Cap'n Proto events (loggerd/log_file_reader.h)";

  auto reader = py::class_<loggerd::LogFileReader>(m, "LogFileReader");
  reader
      .def(py::init<const std::string &, bool>(), py::arg("path"), py::arg("strict") = false)
      .def("__iter__", [](loggerd::LogFileReader &r) -> loggerd::LogFileReader & { return r; })
      .def("__next__", [](loggerd::LogFileReader &r) {
        std::string_view ev;
        bool ok;
        {
          py::gil_scoped_release nogil;
          ok = r.next(ev);
        }
        if (!ok) throw py::stop_iteration();
        return py::bytes(ev.data(), ev.size());
      })
      .def_property_readonly("warning", &loggerd::LogFileReader::warning)
      .def_property_readonly("events", &loggerd::LogFileReader::events)
      .def_property_readonly("compressed", &loggerd::LogFileReader::compressed);
  conduit_py::require_init(reader);

  m.def("resolve_logs", [](const std::string &spec, bool qlog) {
    std::vector<std::string> missing;
    auto files = loggerd::resolve_logs(spec, qlog, &missing);
    return py::make_tuple(files, missing);
  }, py::arg("spec"), py::arg("qlog") = false);
  m.def("event_problem", [](py::bytes data) -> std::optional<std::string> {
    std::string_view b = data;
    if (b.size() % sizeof(capnp::word) != 0) return "its size is not a whole number of 8-byte words";
    std::vector<capnp::word> words(b.size() / sizeof(capnp::word));  // aligned for capnp
    std::memcpy(words.data(), b.data(), b.size());
    return cereal::event_problem(kj::arrayPtr(words.data(), words.size()));
  }, py::arg("data"), "None when the serialized event is readable in full; otherwise what is wrong (cereal/event_check.h).");
  m.def("log_root", &loggerd::log_root);
  m.def("write_log", [](const std::string &path, const std::vector<std::string> &events, size_t frame_events, int level) {
    if (frame_events == 0) throw std::invalid_argument("write_log: frame_events must be >= 1, found 0");
    for (size_t i = 0; i < events.size(); ++i) {
      int64_t n = loggerd::capnp_message_size(events[i].data(), events[i].size());
      if (n != int64_t(events[i].size()))
        throw std::invalid_argument("write_log: event " + std::to_string(i) + " is not one Cap'n Proto message (" +
                                    std::to_string(events[i].size()) + " bytes)");
    }
    py::gil_scoped_release nogil;
    loggerd::Writer w;
    loggerd::ZstdLogOptions o;
    o.level = level;
    o.flush_interval_ns = UINT64_MAX;
    loggerd::ZstdLogFile f(w, path, o);
    for (size_t i = 0; i < events.size(); ++i) {
      f.write(events[i].data(), events[i].size(), 0);
      if ((i + 1) % frame_events == 0) f.flush();
    }
    f.close();
    w.drain();
  }, py::arg("path"), py::arg("events"), py::arg("frame_events") = 64, py::arg("level") = 3,
     "Writes serialized events as a zstd log, a frame every `frame_events` events (a .lock exists while writing).");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument &e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}
