// Python bindings of the synthetic scene: camerad._synthetic (re-exported by
// camerad/__init__.py), so Python tests and tools can verify frames they got.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "camerad/synthetic_scene.h"

namespace py = pybind11;

namespace {

camerad::CameraStream stream_of(const std::string &name) {
  for (int s = 0; s < camerad::kCameraStreamCount; s++) {
    if (name == camerad::camera_info(camerad::CameraStream(s)).name) return camerad::CameraStream(s);
  }
  throw py::value_error("unknown camera '" + name + "': expected road, wide or driver");
}

// Compact NV12 (height * 3/2 rows of width bytes), or written into `out` — any
// writable uint8 array of that shape, e.g. a VisionIPC buffer view.
py::array_t<uint8_t> render(const std::string &camera, uint32_t frame_id, int width, int height) {
  py::array_t<uint8_t> out({py::ssize_t(height) * 3 / 2, py::ssize_t(width)});
  uint8_t *p = out.mutable_data();
  camerad::render_synthetic(stream_of(camera), frame_id, {p, p + size_t(width) * height, width, height, width});
  return out;
}

py::object read_stamp(py::array_t<uint8_t, py::array::c_style> y) {
  if (y.ndim() != 2) throw py::value_error("expected a 2-D Y plane (rows x width)");
  auto st = camerad::read_stamp(y.data(), int(y.shape(1)), int(y.shape(1)), int(y.shape(0)));
  if (!st) return py::none();
  return py::make_tuple(st->frame_id, camerad::camera_info(st->stream).name);
}

}  // namespace

PYBIND11_MODULE(_synthetic, m) {
  m.doc() = "camerad's synthetic road scene";
  m.def("render", &render, py::arg("camera"), py::arg("frame_id"), py::arg("width") = 1928, py::arg("height") = 1208,
        "NV12 frame of `camera` ('road', 'wide', 'driver') at `frame_id`: a (height*3/2, width) uint8 array.");
  m.def("read_stamp", &read_stamp, py::arg("y"),
        "(frame_id, camera) from the stamp in a Y plane (any scale), or None when it does not check out.");
}
