// modeld._modeld: the transform, the runner and the pipeline for Python (tests,
// benchmarks, tools). Frames are passed as any buffer (numpy array over a
// memfd, bytes) and read in place; outputs come back as new numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common/py_object_guards.h"
#include "modeld/pipeline.h"
#include "modeld/runner.h"
#include "modeld/transform.h"

namespace py = pybind11;
using namespace modeld;

namespace {

// The chroma arguments of run()/process(): NV12 by default (v_offset = u_offset + 1,
// uv_stride = stride); uv_step=1 is I420 (uv_stride defaults to stride / 2, the V
// plane to right after the U plane). A VisionBuf has all of them as attributes.
struct Chroma {
  int64_t v_offset, uv_stride;
  int uv_step;
};

Frame frame_view(const py::buffer &buf, int width, int height, int stride, size_t u_offset, const Chroma &c) {
  py::buffer_info info = buf.request();
  if (info.ndim < 1 || info.itemsize != 1) throw std::invalid_argument("frame: expected a buffer of bytes (uint8)");
  if (!PyBuffer_IsContiguous(info.view(), 'C')) {
    throw std::invalid_argument("frame: expected a C-contiguous buffer (the whole frame, e.g. VisionBuf.data)");
  }
  conduit::Yuv420Layout l{width, height, stride, u_offset, 0, 0, c.uv_step};
  l.uv_stride = c.uv_stride >= 0 ? int(c.uv_stride) : c.uv_step == 2 ? stride : stride / 2;
  l.v_offset = c.v_offset >= 0 ? size_t(c.v_offset) : c.uv_step == 2 ? u_offset + 1 : u_offset + size_t(l.uv_stride) * (height / 2);
  Frame f{static_cast<const uint8_t *>(info.ptr), l};
  f.validate();
  size_t have = size_t(info.size);
  if (have < f.size()) {
    throw std::invalid_argument("frame buffer holds " + std::to_string(have) + " bytes, the " +
                                conduit::pixel_format_name(l.format()) + " layout needs " + std::to_string(f.size()));
  }
  return f;
}

Mat3 to_mat3(const py::array_t<double, py::array::c_style | py::array::forcecast> &m) {
  if (m.size() != 9) throw std::invalid_argument("warp matrix: expected 9 values (3x3), got " + std::to_string(m.size()));
  Mat3 r;
  for (int i = 0; i < 9; i++) r[i] = float(m.data()[i]);
  return r;
}

py::array_t<float> new_array(const Shape &s) {
  std::vector<py::ssize_t> dims(s.begin(), s.end());
  return py::array_t<float>(dims);
}

struct PyTransform {
  std::shared_ptr<Device> device;
  std::unique_ptr<FrameTransform> transform;
  DeviceBuffer out, copy;

  PyTransform(const std::string &backend, int w, int h)
      : device(Device::open(parse_backend(backend))), transform(FrameTransform::create(device, w, h)) {
    out = device->alloc(transform->output_floats() * sizeof(float));
  }
  py::array_t<float> result() {
    py::array_t<float> a({py::ssize_t(6), py::ssize_t(transform->out_height() / 2), py::ssize_t(transform->out_width() / 2)});
    device->download(out, 0, a.mutable_data(), transform->output_floats() * sizeof(float));
    return a;
  }
  py::array_t<float> run(const py::buffer &buf, int width, int height, int stride, size_t u_offset,
                         const py::array_t<double, py::array::c_style | py::array::forcecast> &m, bool copy_frame,
                         int64_t v_offset, int64_t uv_stride, int uv_step) {
    Frame f = frame_view(buf, width, height, stride, u_offset, {v_offset, uv_stride, uv_step});
    Mat3 warp = to_mat3(m);
    {
      py::gil_scoped_release release;
      if (copy_frame) {
        device->reserve(copy, f.size());
        device->upload(copy, 0, f.data, f.size());
        transform->run_from_device(copy, f, warp, out, 0);
      } else {
        transform->run(f, warp, out, 0);
      }
      device->finish();
    }
    return result();
  }
};

struct PyRunner {
  std::unique_ptr<ModelRunner> runner;

  PyRunner(const std::string &backend, const std::string &path)
      : runner(ModelRunner::create(Device::open(parse_backend(backend)), load_model(path))) {}
  py::list run(const py::list &inputs) {
    if (inputs.size() != runner->input_count()) {
      throw std::invalid_argument("run: expected " + std::to_string(runner->input_count()) + " inputs, got " +
                                  std::to_string(inputs.size()));
    }
    for (size_t i = 0; i < runner->input_count(); i++) {
      auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(inputs[i]);
      const Value &v = runner->input(i);
      std::vector<int> got(a.shape(), a.shape() + a.ndim());
      if (!a || got != v.shape) {
        throw std::invalid_argument("run: input '" + v.name + "' must have shape " + shape_string(v.shape) + ", got " +
                                    shape_string(got));
      }
      runner->set_input(i, a.data());
    }
    {
      py::gil_scoped_release release;
      runner->run();
    }
    py::list out;
    for (size_t i = 0; i < runner->output_count(); i++) {
      py::array_t<float> a = new_array(runner->output(i).shape);
      runner->read_output(i, a.mutable_data());
      out.append(a);
    }
    return out;
  }
};

struct PyPipeline {
  std::unique_ptr<ModelPipeline> pipeline;

  PyPipeline(const std::string &backend, const std::string &path, bool copy_frame)
      : pipeline(std::make_unique<ModelPipeline>(Device::open(parse_backend(backend)), load_model(path), copy_frame)) {}
  py::dict process(const py::buffer &buf, int width, int height, int stride, size_t u_offset,
                   const py::array_t<double, py::array::c_style | py::array::forcecast> &m, int64_t v_offset,
                   int64_t uv_stride, int uv_step) {
    Frame f = frame_view(buf, width, height, stride, u_offset, {v_offset, uv_stride, uv_step});
    Mat3 warp = to_mat3(m);
    FrameTimings t;
    {
      py::gil_scoped_release release;
      t = pipeline->process(f, warp);
    }
    py::dict d;
    d["transform_ms"] = t.transform_ms;
    d["inference_ms"] = t.inference_ms;
    d["total_ms"] = t.total_ms;
    d["device_ms"] = t.device_ms;
    return d;
  }
  py::dict outputs() {
    py::dict d;
    ModelRunner &r = pipeline->runner();
    for (size_t i = 0; i < r.output_count(); i++) {
      py::array_t<float> a = new_array(r.output(i).shape);
      r.read_output(i, a.mutable_data());
      d[py::str(r.output(i).name)] = a;
    }
    return d;
  }
  py::array_t<float> model_input() {
    ModelRunner &r = pipeline->runner();
    py::array_t<float> a = new_array(r.input(0).shape);
    r.device().download(r.input_buffer(0), 0, a.mutable_data(), shape_count(r.input(0).shape) * sizeof(float));
    return a;
  }
};

}  // namespace

PYBIND11_MODULE(_modeld, m) {
  m.doc() = "modeld: frame transform and model runtime (OpenCL, CUDA, CPU)";
  py::register_exception<ModelError>(m, "ModelError", PyExc_ValueError);

  m.def("available_backends", [] {
    std::vector<std::string> r;
    for (Backend b : available_backends()) r.push_back(backend_name(b));
    return r;
  }, "usable backends, fastest first");
  m.def("unavailable_reason", [](const std::string &b) { return backend_unavailable_reason(parse_backend(b)); },
        "why a backend cannot be used here, or '' when it can");
  m.def("default_warp", [](int fw, int fh, int mw, int mh) {
    Mat3 w = default_warp(fw, fh, mw, mh);
    py::array_t<double> a({3, 3});
    for (int i = 0; i < 9; i++) a.mutable_data()[i] = w[i];
    return a;
  });
  m.def("check_model", [](const std::string &path) { load_model(path); }, "raises ModelError if the file is invalid");
  m.def("check_model_bytes", [](const py::bytes &data, const std::string &origin) {
    std::string_view v = data;
    parse_model(v.data(), v.size(), origin);
  }, py::arg("data"), py::arg("origin") = "model", "raises ModelError if the compiled model bytes are invalid");

  auto transform = py::class_<PyTransform>(m, "Transform");
  transform
      .def(py::init<const std::string &, int, int>(), py::arg("backend"), py::arg("out_width"), py::arg("out_height"))
      .def("run", &PyTransform::run, py::arg("frame"), py::arg("width"), py::arg("height"), py::arg("stride"),
           py::arg("u_offset"), py::arg("matrix"), py::arg("copy_frame") = false, py::kw_only(),
           py::arg("v_offset") = -1, py::arg("uv_stride") = -1, py::arg("uv_step") = 2,
           "warps a 4:2:0 frame (NV12 by default; uv_step=1 for I420, with v_offset and uv_stride\n"
           "where they differ from a packed I420 layout); returns the six planes (6, out_h/2, out_w/2)");

  auto runner = py::class_<PyRunner>(m, "Runner");
  runner
      .def(py::init<const std::string &, const std::string &>(), py::arg("backend"), py::arg("model_path"))
      .def("run", &PyRunner::run, "runs the model on a list of float32 arrays; returns the outputs")
      .def_property_readonly("input_names", [](PyRunner &r) {
        std::vector<std::string> n;
        for (size_t i = 0; i < r.runner->input_count(); i++) n.push_back(r.runner->input(i).name);
        return n;
      })
      .def_property_readonly("input_shapes", [](PyRunner &r) {
        std::vector<Shape> n;
        for (size_t i = 0; i < r.runner->input_count(); i++) n.push_back(r.runner->input(i).shape);
        return n;
      })
      .def_property_readonly("output_names", [](PyRunner &r) {
        std::vector<std::string> n;
        for (size_t i = 0; i < r.runner->output_count(); i++) n.push_back(r.runner->output(i).name);
        return n;
      })
      .def_property_readonly("launch_count", [](PyRunner &r) { return r.runner->launch_count(); });

  auto pipeline = py::class_<PyPipeline>(m, "Pipeline");
  pipeline
      .def(py::init<const std::string &, const std::string &, bool>(), py::arg("backend"), py::arg("model_path"),
           py::arg("copy_frame") = false)
      .def("process", &PyPipeline::process, py::arg("frame"), py::arg("width"), py::arg("height"), py::arg("stride"),
           py::arg("u_offset"), py::arg("matrix"), py::kw_only(), py::arg("v_offset") = -1, py::arg("uv_stride") = -1,
           py::arg("uv_step") = 2, "transform + inference of one frame (chroma arguments as Transform.run); timings in ms")
      .def("outputs", &PyPipeline::outputs)
      .def("model_input", &PyPipeline::model_input)
      .def_property_readonly("model_width", [](PyPipeline &p) { return p.pipeline->model_width(); })
      .def_property_readonly("model_height", [](PyPipeline &p) { return p.pipeline->model_height(); })
      .def_property_readonly("frames_per_input", [](PyPipeline &p) { return p.pipeline->frames_per_input(); });
  conduit_py::require_init(transform);
  conduit_py::require_init(runner);
  conduit_py::require_init(pipeline);
}
