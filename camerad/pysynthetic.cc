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

// A compact frame (height * 3/2 rows of width bytes): Y, then NV12's interleaved
// UV rows or I420's U plane and V plane.
py::array_t<uint8_t> render(const std::string &camera, uint32_t frame_id, int width, int height,
                            const std::string &pixel_format) {
  conduit::Yuv420Layout l = conduit::yuv420_layout(conduit::parse_pixel_format(pixel_format), width, height);
  py::array_t<uint8_t> out({py::ssize_t(height) * 3 / 2, py::ssize_t(width)});
  camerad::render_synthetic(stream_of(camera), frame_id, conduit::Yuv420Frame::at(out.mutable_data(), l));
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
        py::arg("pixel_format") = "nv12",
        "Compact frame of `camera` ('road', 'wide', 'driver') at `frame_id` in pixel_format 'nv12' or 'yuv420p':\n"
        "a (height*3/2, width) uint8 array (Y rows, then the chroma bytes).");
  m.def("read_stamp", &read_stamp, py::arg("y"),
        "(frame_id, camera) from the stamp in a Y plane (any scale), or None when it does not check out.");
}
