// msgq sockets and Poller for Python. Waiting happens with the GIL released, so
// other Python threads run while a subscriber sleeps.
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "cereal/messaging.h"
#include "msgq/introspect.h"
#include "cereal/remote.h"
#include "cereal/pybind/bindings.h"
#include "cereal/pybind/capnp_values.h"
#include "cereal/pybind/fast_cast.h"
#include "common/py_object_guards.h"
#include "msgq/msgq.h"
#include "msgq/zmq_socket.h"

namespace cereal_py {

namespace {

// Messages at least this large are copied into the ring without the GIL.
constexpr size_t kReleaseGilBytes = 64 * 1024;

struct PubSocketPy {
  std::unique_ptr<msgq::PubSocket> sock;
  std::vector<uint64_t> buffer;

  // `which`, when not None, is the union member a message builder must hold
  // (PubMaster: the service's own); ValueError otherwise.
  void send(py::handle data, py::handle which) {
    if (StructBuilder *b = wrapped<StructBuilder>(data)) {
      if (!b->is_root) throw py::type_error("send() takes a whole message; this builder is a field of one");
      if (!which.is_none()) check_which(b->value, which);
      cereal::MessageBuilder &msg = std::static_pointer_cast<BuiltMessage>(b->keep)->message;
      if (msg.inLoan()) return msg.send(*sock, buffer);  // committed in place (copied if it outgrew the loan)
      auto flat = msg.flatBytesInPlace();
      if (flat.size() > 0) {
        send_bytes(flat.begin(), flat.size());
      } else {
        send_bytes(buffer.data(), cereal::serialize(msg, buffer));
      }
      return;
    }
    Py_buffer view;
    if (PyUnicode_Check(data.ptr()) || PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      throw py::type_error("send() takes bytes or a message builder, found " +
                           std::string(py::str(py::type::handle_of(data).attr("__name__"))));
    }
    try {
      send_bytes(view.buf, size_t(view.len));
    } catch (...) {
      PyBuffer_Release(&view);
      throw;
    }
    PyBuffer_Release(&view);
  }

  static void check_which(capnp::DynamicStruct::Builder msg, py::handle which) {
    if (!PyUnicode_Check(which.ptr())) throw py::type_error("send(): which must be a str");
    if (holds_member(msg.asReader(), which)) return;
    std::string holding = "no union member";
    KJ_IF_MAYBE(active, msg.which()) {
      holding = "'" + std::string(active->getProto().getName().cStr()) + "'";
    }
    throw py::value_error("send(): the message holds " + holding + ", not '" + py::cast<std::string>(which) + "'");
  }

  void send_bytes(const void *data, size_t size) {
    if (size >= kReleaseGilBytes) {
      py::gil_scoped_release release;
      sock->send(data, size);
    } else {
      sock->send(data, size);
    }
  }
};

// A received message in place (msgq::MessageView): a read-only buffer
// (memoryview(v), numpy.frombuffer(v), log_from_bytes(v) read it in place).
// Holds its socket, whose ring it points into.
struct MessageViewPy {
  py::object socket;
  msgq::MessageView view;
};

struct SubSocketPy {
  std::unique_ptr<msgq::SubSocket> sock;
  int timeout_ms = -1;
  bool remote = false;  // relayed from another host's bridge
  msgq::Message msg;

  // Next message as a MessageView, or None; waits as receive().
  static py::object receive_view(py::object self, bool non_blocking, py::object timeout) {
    SubSocketPy &s = unwrap<SubSocketPy>(self);
    int wait = non_blocking ? 0 : (timeout.is_none() ? s.timeout_ms : py::cast<int>(timeout));
    MessageViewPy v{self, {}};
    bool got = s.sock->receive_view(v.view, 0);
    if (!got && wait != 0) {
      py::gil_scoped_release release;
      got = s.sock->receive_view(v.view, wait);
    }
    if (!got) return py::none();
    return wrap(std::move(v));
  }

  // Next message as bytes, or None. Tries without waiting first, so a ready
  // message costs no GIL round trip.
  py::object receive(bool non_blocking, py::object timeout) {
    int wait = non_blocking ? 0 : (timeout.is_none() ? timeout_ms : py::cast<int>(timeout));
    bool got = sock->receive(msg, 0);
    if (!got && wait != 0) {
      py::gil_scoped_release release;
      got = sock->receive(msg, wait);
    }
    if (!got) return py::none();
    return py::bytes(msg.data(), msg.size());
  }
};

struct PollerPy {
  std::unique_ptr<msgq::Poller> poller;  // of the first socket's kind: this host's bus, or a remote host's
  std::map<msgq::SubSocket *, py::object> sockets;  // also keeps them alive

  void add(py::object sock) {
    SubSocketPy &s = unwrap<SubSocketPy>(sock);  // TypeError for anything else, or one never initialized
    if (sockets.count(s.sock.get())) return;
    if (!poller) {
      if (s.remote) poller = std::make_unique<msgq::ZmqPoller>();
      else poller = msgq::Poller::create();
    }
    poller->add(*s.sock);
    sockets.emplace(s.sock.get(), sock);
  }

  py::list poll(int timeout_ms) {
    if (!poller) poller = msgq::Poller::create();
    const std::vector<msgq::SubSocket *> *ready;  // the poller's own list, valid until its next poll
    {
      py::gil_scoped_release release;
      ready = &poller->poll(timeout_ms);
    }
    py::list out;
    for (msgq::SubSocket *s : *ready) out.append(sockets.at(s));
    return out;
  }
};

}  // namespace

std::shared_ptr<BuiltMessage> message_in_loan(py::handle pub_socket, size_t capacity) {
  PubSocketPy &p = unwrap<PubSocketPy>(pub_socket);
  return std::make_shared<BuiltMessage>(py::reinterpret_borrow<py::object>(pub_socket), *p.sock, capacity);
}

const msgq::MessageView *message_view_in(py::handle obj) {
  const MessageViewPy *v = wrapped<MessageViewPy>(obj);
  return v != nullptr ? &v->view : nullptr;
}

void bind_msgq(py::module_ &m) {
  py::register_exception<msgq::Error>(m, "MsgqError", PyExc_RuntimeError);

  m.def("zmq_backend", &msgq::zmq_backend, "True when ZMQ=1 selects the libzmq backend.");
  m.def("max_message_size", &msgq::max_message_size, py::arg("ring_size"));
  m.def("remove_unused_topics", &msgq::remove_unused_topics,
        "Removes the ring files of topics with no live publisher or subscriber; returns their names.");
  m.def("bridge_port", [](const std::string &service) { return cereal::bridge_port(service); }, py::arg("service"),
        "The tcp port of `service` on a bridge (cereal/remote.h: base from CONDUIT_BRIDGE_PORT or CONDUIT_PREFIX).");
  m.attr("DEFAULT_RING_SIZE") = msgq::kDefaultRingSize;

  py::class_<PubSocketPy> pub_socket(m, "PubSocket");
  pub_socket
      .def(py::init([](const std::string &topic, size_t ring_size) {
             return PubSocketPy{msgq::PubSocket::create(topic, ring_size), {}};
           }),
           py::arg("topic"), py::arg("ring_size") = msgq::kDefaultRingSize)
      .def("send", &PubSocketPy::send, py::arg("data"), py::arg("which") = py::none(),
           "Publishes bytes or a message builder; a builder must hold the union member `which` when given.")
      .def_property_readonly("topic", [](const PubSocketPy &p) { return p.sock->topic(); })
      .def("subscriber_count", [](const PubSocketPy &p) { return p.sock->subscriber_count(); })
      .def(
          "loan",
          [](PubSocketPy &p, size_t size) {
            void *data = p.sock->loan(size);
            return py::reinterpret_steal<py::object>(PyMemoryView_FromMemory(static_cast<char *>(data), Py_ssize_t(size), PyBUF_WRITE));
          },
          py::arg("size"),
          "A writable memoryview of `size` bytes in the topic's ring for the next message (msgq.h's loan): "
          "fill it, then commit(n). Do not touch it after commit() or cancel_loan().")
      .def("commit", [](PubSocketPy &p, size_t size) { p.sock->commit(size); }, py::arg("size"),
           "Publishes the first `size` bytes of the loan, in place.")
      .def("cancel_loan", [](PubSocketPy &p) { p.sock->cancel_loan(); });

  py::class_<SubSocketPy> sub_socket(m, "SubSocket");
  sub_socket
      .def(py::init([](const std::string &topic, bool conflate, size_t ring_size, int timeout_ms, const std::string &addr) {
             if (!cereal::is_local_addr(addr)) {
               auto remote = std::move(cereal::remote_subscribers({topic}, addr, conflate).front());
               return std::make_unique<SubSocketPy>(SubSocketPy{std::move(remote), timeout_ms, true, {}});
             }
             msgq::SubOptions opts;
             opts.conflate = conflate;
             opts.ring_size = ring_size;
             return std::make_unique<SubSocketPy>(SubSocketPy{msgq::SubSocket::create(topic, opts), timeout_ms, false, {}});
           }),
           py::arg("topic"), py::arg("conflate") = false, py::arg("ring_size") = msgq::kDefaultRingSize,
           py::arg("timeout_ms") = -1, py::arg("addr") = "",
           "A subscriber of `topic` on this host's bus, or (addr: another host) of the service its bridge relays.")
      .def("receive", &SubSocketPy::receive, py::arg("non_blocking") = false, py::arg("timeout_ms") = py::none(),
           "The next message as bytes; None when none arrived in time.")
      .def("receive_view", &SubSocketPy::receive_view, py::arg("non_blocking") = false,
           py::arg("timeout_ms") = py::none(),
           "The next message in place, as a MessageView; None when none arrived in time. Read it, then "
           "check view.intact(): False means it was overwritten meanwhile (and counts in lost()).")
      .def("set_timeout", [](SubSocketPy &s, int ms) { s.timeout_ms = ms; })
      .def_property_readonly("timeout_ms", [](const SubSocketPy &s) { return s.timeout_ms; })
      .def_property_readonly("topic", [](const SubSocketPy &s) { return s.sock->topic(); })
      .def("lost", [](const SubSocketPy &s) { return s.sock->lost(); });

  py::class_<MessageViewPy> message_view(m, "MessageView", py::buffer_protocol());
  message_view
      .def_buffer([](MessageViewPy &v) {
        return py::buffer_info(const_cast<char *>(v.view.data()), 1, py::format_descriptor<uint8_t>::format(), 1,
                               {py::ssize_t(v.view.size())}, {py::ssize_t(1)}, /*readonly=*/true);
      })
      .def("intact", [](const MessageViewPy &v) { return v.view.intact(); },
           "True while the message was not overwritten: everything read before this call was the message.")
      .def_property_readonly("seq", [](const MessageViewPy &v) { return v.view.seq(); })
      .def("__len__", [](const MessageViewPy &v) { return v.view.size(); });

  py::class_<PollerPy> poller(m, "Poller");
  poller
      .def(py::init<>())
      .def("register", &PollerPy::add)
      .def("registerSocket", &PollerPy::add)
      .def("poll", &PollerPy::poll, py::arg("timeout_ms"), "Sockets with a message ready (empty on timeout).");

  conduit_py::refuse_construction(message_view);
  for (py::handle type : std::initializer_list<py::handle>{pub_socket, sub_socket, poller}) {
    conduit_py::require_init(type);
  }
}

}  // namespace cereal_py
