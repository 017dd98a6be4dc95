// Python bindings: visionipc._visionipc (re-exported by visionipc/__init__.py).
// Frames are numpy arrays over the shared memory: no copy. A client's arrays
// keep the mapping alive (even across reconnects) but show the producer's next
// frame once the client's hold ends (next recv() or release()).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "common/py_object_guards.h"
#include "common/yuv420_copy.h"
#include "visionipc/visionipc_client.h"
#include "visionipc/visionipc_server.h"

namespace py = pybind11;

namespace {

// A buffer handed to Python: the VisionBuf plus whatever keeps its memory mapped.
struct PyVisionBuf {
  VisionBuf *buf;
  py::object owner;  // the server object, or a capsule holding the client's mapping
  bool writable;

  py::array view(size_t offset, std::vector<py::ssize_t> shape, std::vector<py::ssize_t> strides) const {
    py::array a(py::dtype::of<uint8_t>(), shape, strides, buf->addr + offset, owner);
    if (!writable) py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return a;
  }
};

py::object capsule_for(const std::shared_ptr<void> &mapping) {
  auto *keep = new std::shared_ptr<void>(mapping);
  return py::capsule(keep, [](void *p) { delete static_cast<std::shared_ptr<void> *>(p); });
}

// Copies a frame given compact in the buffer's format (NV12 or I420,
// width*height*3/2 bytes) or as the full padded buffer (len bytes) into `buf`.
void fill(VisionBuf *buf, py::buffer data) {
  py::buffer_info info = data.request();
  if (!PyBuffer_IsContiguous(info.view(), 'C')) throw visionipc::Error("frame data must be C-contiguous");
  size_t n = size_t(info.size) * size_t(info.itemsize);
  uint8_t *src = static_cast<uint8_t *>(info.ptr);
  conduit::Yuv420Layout compact = conduit::yuv420_layout(buf->layout.format(), buf->layout.width, buf->layout.height);
  if (n == buf->len) {
    memcpy(buf->addr, src, n);
  } else if (n == compact.size()) {
    conduit::copy_frame(conduit::Yuv420Frame::at(src, compact), buf->frame());
  } else {
    throw visionipc::Error("frame of " + std::to_string(n) + " bytes: expected " + std::to_string(compact.size()) +
                           " (compact " + conduit::pixel_format_name(buf->layout.format()) + " " +
                           std::to_string(buf->width()) + "x" + std::to_string(buf->height()) + ") or " +
                           std::to_string(buf->len) + " (padded buffer)");
  }
}

py::array chroma_view(const PyVisionBuf &b, size_t offset) {
  const conduit::Yuv420Layout &l = b.buf->layout;
  return b.view(offset, {py::ssize_t(l.height / 2), py::ssize_t(l.width / 2)}, {py::ssize_t(l.uv_stride), py::ssize_t(l.uv_step)});
}

// The client plus the metadata of its last frame.
struct PyClient {
  PyClient(const std::string &name, VisionStreamType type, bool conflate) : client(name, type, conflate) {}
  VisionIpcClient client;
  VisionIpcBufExtra extra;
};

}  // namespace

PYBIND11_MODULE(_visionipc, m) {
  m.doc() = "VisionIPC: zero-copy NV12 / I420 frame sharing between processes";
  py::register_exception<visionipc::Error>(m, "VisionIpcError", PyExc_RuntimeError);

  py::enum_<VisionStreamType>(m, "VisionStreamType", py::arithmetic())
      .value("VISION_STREAM_ROAD", VISION_STREAM_ROAD)
      .value("VISION_STREAM_DRIVER", VISION_STREAM_DRIVER)
      .value("VISION_STREAM_WIDE_ROAD", VISION_STREAM_WIDE_ROAD)
      .value("VISION_STREAM_MAP", VISION_STREAM_MAP)
      .export_values();

  py::class_<PyVisionBuf> vision_buf(m, "VisionBuf");
  vision_buf
      .def_property_readonly("width", [](const PyVisionBuf &b) { return b.buf->width(); })
      .def_property_readonly("height", [](const PyVisionBuf &b) { return b.buf->height(); })
      .def_property_readonly("stride", [](const PyVisionBuf &b) { return b.buf->stride(); })
      .def_property_readonly("pixel_format", [](const PyVisionBuf &b) { return conduit::pixel_format_name(b.buf->layout.format()); },
                             "'nv12' (U,V interleaved) or 'yuv420p' (I420: U plane, V plane).")
      .def_property_readonly("u_offset", [](const PyVisionBuf &b) { return b.buf->layout.u_offset; })
      .def_property_readonly("v_offset", [](const PyVisionBuf &b) { return b.buf->layout.v_offset; })
      .def_property_readonly("uv_stride", [](const PyVisionBuf &b) { return b.buf->layout.uv_stride; })
      .def_property_readonly("uv_step", [](const PyVisionBuf &b) { return b.buf->layout.uv_step; })
      .def_property_readonly("len", [](const PyVisionBuf &b) { return b.buf->len; })
      .def_property_readonly("idx", [](const PyVisionBuf &b) { return b.buf->idx; })
      .def_property_readonly("memory_kind", [](const PyVisionBuf &b) { return visionipc::memory_kind_name(b.buf->memory_kind); })
      .def_property_readonly("data", [](const PyVisionBuf &b) { return b.view(0, {py::ssize_t(b.buf->len)}, {1}); },
                             "The whole padded buffer, 1-D uint8.")
      .def_property_readonly("y", [](const PyVisionBuf &b) {
        return b.view(0, {py::ssize_t(b.buf->height()), py::ssize_t(b.buf->width())}, {py::ssize_t(b.buf->stride()), 1});
      }, "Y plane, (height, width) uint8 with row stride.")
      .def_property_readonly("u", [](const PyVisionBuf &b) { return chroma_view(b, b.buf->layout.u_offset); },
                             "U plane, (height/2, width/2) uint8 with the chroma row stride and pixel step (any layout).")
      .def_property_readonly("v", [](const PyVisionBuf &b) { return chroma_view(b, b.buf->layout.v_offset); },
                             "V plane, (height/2, width/2) uint8 with the chroma row stride and pixel step (any layout).")
      .def_property_readonly("uv", [](const PyVisionBuf &b) {
        if (b.buf->layout.format() != conduit::PixelFormat::kNv12) {
          throw visionipc::Error("uv: the buffer is yuv420p (planar); use u and v");
        }
        return b.view(b.buf->layout.u_offset, {py::ssize_t(b.buf->height() / 2), py::ssize_t(b.buf->width())},
                      {py::ssize_t(b.buf->layout.uv_stride), 1});
      }, "NV12 only: the interleaved UV plane, (height/2, width) uint8 with row stride.");

  py::class_<VisionIpcServer> server(m, "VisionIpcServer");
  server
      .def(py::init<std::string>(), py::arg("name"))
      .def("create_buffers", [](VisionIpcServer &s, VisionStreamType type, size_t n, size_t w, size_t h, const std::string &fmt) {
        s.create_buffers(type, n, w, h, conduit::parse_pixel_format(fmt));
      }, py::arg("stream"), py::arg("num_buffers"), py::arg("width"), py::arg("height"), py::arg("pixel_format") = "nv12",
         "pixel_format: 'nv12' or 'yuv420p'.")
      .def("start_listener", &VisionIpcServer::start_listener)
      .def("get_buffer", [](py::object self, VisionStreamType type) -> py::object {
        VisionBuf *b = self.cast<VisionIpcServer &>().get_buffer(type);
        if (!b) return py::none();
        return py::cast(PyVisionBuf{b, self, true});
      }, py::arg("stream"), "A buffer to fill in place, or None when clients hold all of them (frame dropped).")
      .def("send_buffer", [](VisionIpcServer &s, const PyVisionBuf &b, uint32_t frame_id, uint64_t sof, uint64_t eof, bool valid) {
        VisionIpcBufExtra e{frame_id, sof, eof, valid};
        s.send(b.buf, &e);
      }, py::arg("buf"), py::arg("frame_id") = 0, py::arg("timestamp_sof") = 0, py::arg("timestamp_eof") = 0, py::arg("valid") = true)
      .def("send", [](VisionIpcServer &s, VisionStreamType type, py::buffer data, uint32_t frame_id, uint64_t sof, uint64_t eof, bool valid) {
        VisionBuf *b = s.get_buffer(type);
        if (!b) return false;
        fill(b, data);
        VisionIpcBufExtra e{frame_id, sof, eof, valid};
        s.send(b, &e);
        return true;
      }, py::arg("stream"), py::arg("data"), py::arg("frame_id") = 0, py::arg("timestamp_sof") = 0,
         py::arg("timestamp_eof") = 0, py::arg("valid") = true,
         "Copies one frame (compact in the stream's pixel format, or padded) into a free buffer and announces it. False when dropped.")
      .def_property_readonly("server_id", &VisionIpcServer::server_id)
      .def_property_readonly("refused_connections", &VisionIpcServer::refused_connections)
      .def("frames_sent", &VisionIpcServer::frames_sent)
      .def("dropped_frames", &VisionIpcServer::dropped_frames)
      .def("num_clients", &VisionIpcServer::num_clients)
      .def("wait_lockstep", [](VisionIpcServer &s, VisionStreamType type, int timeout_ms) {
             py::gil_scoped_release release;
             return s.wait_lockstep(type, timeout_ms);
           }, py::arg("type"), py::arg("timeout_ms") = -1,
           "Lockstep: waits until every lockstep client took the frames sent and went back to wait.")
      .def("holders", &VisionIpcServer::holders);

  py::class_<PyClient> client(m, "VisionIpcClient");
  client
      .def(py::init<std::string, VisionStreamType, bool>(), py::arg("name"), py::arg("stream"), py::arg("conflate") = false)
      .def("connect", [](PyClient &c, bool blocking) {
        py::gil_scoped_release nogil;
        return c.client.connect(blocking);
      }, py::arg("blocking") = true)
      .def("recv", [](PyClient &c, int timeout_ms) -> py::object {
        VisionBuf *b;
        {
          py::gil_scoped_release nogil;
          b = c.client.recv(&c.extra, timeout_ms);
        }
        if (!b) return py::none();
        return py::cast(PyVisionBuf{b, capsule_for(c.client.mapping_owner()), false});
      }, py::arg("timeout_ms") = 100, "Next frame (read-only numpy views) or None on timeout.")
      .def("release", [](PyClient &c) { c.client.release(); })
      .def_property_readonly("connected", [](const PyClient &c) { return c.client.connected; })
      .def_property_readonly("num_buffers", [](const PyClient &c) { return c.client.num_buffers; })
      .def_property_readonly("width", [](const PyClient &c) { return c.client.connected ? c.client.buffers[0].width() : 0; })
      .def_property_readonly("height", [](const PyClient &c) { return c.client.connected ? c.client.buffers[0].height() : 0; })
      .def_property_readonly("stride", [](const PyClient &c) { return c.client.connected ? c.client.buffers[0].stride() : 0; })
      .def_property_readonly("pixel_format", [](const PyClient &c) -> py::object {
        if (!c.client.connected) return py::none();
        return py::str(conduit::pixel_format_name(c.client.buffers[0].layout.format()));
      })
      .def_property_readonly("frame_id", [](const PyClient &c) { return c.extra.frame_id; })
      .def_property_readonly("timestamp_sof", [](const PyClient &c) { return c.extra.timestamp_sof; })
      .def_property_readonly("timestamp_eof", [](const PyClient &c) { return c.extra.timestamp_eof; })
      .def_property_readonly("valid", [](const PyClient &c) { return c.extra.valid; })
      .def_property_readonly("server_id", [](const PyClient &c) { return c.client.server_id(); })
      .def_property_readonly("dropped", [](const PyClient &c) { return c.client.dropped(); })
      .def_property_readonly("rejected", [](const PyClient &c) { return c.client.rejected(); })
      .def_property_readonly("last_error", [](const PyClient &c) { return c.client.last_error(); })
      .def_static("available_streams", [](const std::string &name, bool block) {
        py::gil_scoped_release nogil;
        return VisionIpcClient::getAvailableStreams(name, block);
      }, py::arg("name"), py::arg("block") = false);

  conduit_py::refuse_construction(vision_buf);  // buffers come from a server or a client
  conduit_py::require_init(server);
  conduit_py::require_init(client);
}
