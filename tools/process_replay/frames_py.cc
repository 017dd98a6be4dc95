// tools.process_replay._frames: the frames of a segment video decoded
// (tools/replay/frame_reader.h) as compact I420 bytes, what a VisionIPC
// server of yuv420p buffers takes (VisionIpcServer.send).
#include <pybind11/pybind11.h>

#include <string>

#include "common/yuv420.h"
#include "tools/replay/frame_reader.h"

namespace py = pybind11;

PYBIND11_MODULE(_frames, m) {
  py::register_exception<replay::FrameError>(m, "FrameError", PyExc_ValueError);
  py::class_<replay::FrameReader>(m, "FrameReader")
      .def(py::init<const std::string &, int>(), py::arg("path"), py::arg("decode_threads") = 1)
      .def("__len__", &replay::FrameReader::size)
      .def_property_readonly("width", &replay::FrameReader::width)
      .def_property_readonly("height", &replay::FrameReader::height)
      .def(
          "get",
          [](replay::FrameReader &r, size_t i) {
            const auto layout = conduit::yuv420_layout(conduit::PixelFormat::kI420, r.width(), r.height());
            std::string out(layout.size(), '\0');
            r.get(i, conduit::Yuv420Frame::at(reinterpret_cast<uint8_t *>(out.data()), layout));
            return py::bytes(out);
          },
          py::arg("index"), "Packet `index` decoded, as compact I420 bytes.");
}
