// msgq sockets and Poller for Python. Waiting happens with the GIL released, so
// other Python threads run while a subscriber sleeps.
#include <csignal>
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

// An unconnected socket (PubSocket(), SubSocket(), then connect(), as in
// openpilot) or a closed one raises MsgqError when used.
template <class S>
S &connected(const std::unique_ptr<S> &sock) {
  if (!sock) throw msgq::Error("socket is not connected (call connect(context, endpoint, ...) first) or closed");
  return *sock;
}

struct PubSocketPy {
  std::unique_ptr<msgq::PubSocket> sock;
  std::vector<uint64_t> buffer;

  msgq::PubSocket &socket() const { return connected(sock); }

  // `which`, when not None, is the union member a message builder must hold
  // (PubMaster: the service's own); ValueError otherwise.
  void send(py::handle data, py::handle which) {
    if (StructBuilder *b = wrapped<StructBuilder>(data)) {
      if (!b->is_root) throw py::type_error("send() takes a whole message; this builder is a field of one");
      if (!which.is_none()) check_which(b->value, which);
      cereal::MessageBuilder &msg = std::static_pointer_cast<BuiltMessage>(b->keep)->message;
      if (msg.inLoan()) return msg.send(socket(), buffer);  // committed in place (copied if it outgrew the loan)
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
    msgq::PubSocket &out = socket();
    if (size >= kReleaseGilBytes) {
      py::gil_scoped_release release;
      out.send(data, size);
    } else {
      out.send(data, size);
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
  // Or another object's socket (a SubMaster's, sm.sock[name]), kept alive by `owner`.
  msgq::SubSocket *borrowed = nullptr;
  py::object owner;

  msgq::SubSocket &socket() const { return borrowed != nullptr ? *borrowed : connected(sock); }

  void connect(const std::string &topic, bool conflate, size_t ring_size, const std::string &addr) {
    if (!cereal::is_local_addr(addr)) {
      sock = std::move(cereal::remote_subscribers({topic}, addr, conflate).front());
      remote = true;
      return;
    }
    msgq::SubOptions opts;
    opts.conflate = conflate;
    opts.ring_size = ring_size;
    sock = msgq::SubSocket::create(topic, opts);
    remote = false;
  }

  // Next message as a MessageView, or None; waits as receive().
  static py::object receive_view(py::object self, bool non_blocking, py::object timeout) {
    SubSocketPy &s = unwrap<SubSocketPy>(self);
    int wait = non_blocking ? 0 : (timeout.is_none() ? s.timeout_ms : py::cast<int>(timeout));
    MessageViewPy v{self, {}};
    msgq::SubSocket &sock = s.socket();
    bool got = sock.receive_view(v.view, 0);
    if (!got && wait != 0) {
      py::gil_scoped_release release;
      got = sock.receive_view(v.view, wait);
    }
    if (!got) return py::none();
    return wrap(std::move(v));
  }

  // Next message as bytes, or None. Tries without waiting first, so a ready
  // message costs no GIL round trip.
  py::object receive(bool non_blocking, py::object timeout) {
    int wait = non_blocking ? 0 : (timeout.is_none() ? timeout_ms : py::cast<int>(timeout));
    msgq::SubSocket &s = socket();
    bool got = s.receive(msg, 0);
    if (!got && wait != 0) {
      py::gil_scoped_release release;
      got = s.receive(msg, wait);
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
    msgq::SubSocket *sub = &s.socket();
    if (sockets.count(sub)) return;
    if (!poller) {
      if (s.remote) poller = std::make_unique<msgq::ZmqPoller>();
      else poller = msgq::Poller::create();
    }
    poller->add(*sub);
    sockets.emplace(sub, sock);
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

// Signal handlers stop_lockstep_on_signal() chains to: Python's own, which
// only sets a flag the interpreter looks at once the wait returns.
struct sigaction chained[NSIG];

void stop_then_chain(int sig, siginfo_t *info, void *context) {
  msgq::stop_lockstep_waits();
  const struct sigaction &next = chained[sig];
  if (next.sa_flags & SA_SIGINFO) {
    if (next.sa_sigaction != nullptr) next.sa_sigaction(sig, info, context);
  } else if (next.sa_handler != SIG_DFL && next.sa_handler != SIG_IGN && next.sa_handler != nullptr) {
    next.sa_handler(sig);
  }
}

void stop_lockstep_on_signal(int sig) {
  if (sig <= 0 || sig >= NSIG) throw py::value_error("stop_lockstep_on_signal: no signal " + std::to_string(sig));
  struct sigaction current;
  sigaction(sig, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == stop_then_chain) return;
  chained[sig] = current;
  struct sigaction mine = current;
  mine.sa_flags = (current.sa_flags | SA_SIGINFO) & ~SA_RESTART;
  mine.sa_sigaction = stop_then_chain;
  sigaction(sig, &mine, nullptr);
}

}  // namespace

std::shared_ptr<BuiltMessage> message_in_loan(py::handle pub_socket, size_t capacity) {
  PubSocketPy &p = unwrap<PubSocketPy>(pub_socket);
  return std::make_shared<BuiltMessage>(py::reinterpret_borrow<py::object>(pub_socket), p.socket(), capacity);
}

py::object borrowed_sub_socket(py::object owner, msgq::SubSocket &sock) {
  auto s = std::make_unique<SubSocketPy>();
  s->borrowed = &sock;
  s->owner = std::move(owner);
  return py::cast(std::move(s));
}

const msgq::MessageView *message_view_in(py::handle obj) {
  const MessageViewPy *v = wrapped<MessageViewPy>(obj);
  return v != nullptr ? &v->view : nullptr;
}

void bind_msgq(py::module_ &m) {
  static auto &msgq_error = py::register_exception<msgq::Error>(m, "MsgqError", PyExc_RuntimeError);
  py::register_exception<msgq::MultiplePublishersError>(m, "MultiplePublishersError", msgq_error);
  m.def("set_lockstep_default", &msgq::set_lockstep_default, py::arg("on"),
        "Whether subscribers created from now on in this process are lockstep ones (msgq.h).");
  m.def("lockstep_default", &msgq::lockstep_default);
  m.def("stop_lockstep_on_signal", &stop_lockstep_on_signal, py::arg("signum"),
        "After signal.signal(signum, handler): the signal also ends this process's lockstep waits for good "
        "(msgq.h), so the handler runs even when it came just before a wait began.");

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
      .def(py::init([]() { return PubSocketPy{}; }), "An unconnected publisher: connect() it.")
      .def("_connect", [](PubSocketPy &p, const std::string &topic, size_t ring_size) {
             p.sock = msgq::PubSocket::create(topic, ring_size);
           }, py::arg("topic"), py::arg("ring_size"))
      .def("close", [](PubSocketPy &p) { p.sock.reset(); }, "Gives up the topic: another publisher may take it.")
      .def("all_readers_updated", [](const PubSocketPy &p) { return p.socket().all_readers_updated(); },
           "Whether every live subscriber has taken every message sent so far.")
      .def("wait_lockstep", [](PubSocketPy &p, int timeout_ms) {
             msgq::PubSocket &sock = p.socket();
             py::gil_scoped_release release;
             return sock.wait_lockstep(timeout_ms);
           }, py::arg("timeout_ms") = -1,
           "Waits until every lockstep subscriber (at least one) took every message sent and is done with it "
           "(msgq.h); False on timeout.")
      .def("send", &PubSocketPy::send, py::arg("data"), py::arg("which") = py::none(),
           "Publishes bytes or a message builder; a builder must hold the union member `which` when given.")
      .def_property_readonly("topic", [](const PubSocketPy &p) { return p.socket().topic(); })
      .def("subscriber_count", [](const PubSocketPy &p) { return p.socket().subscriber_count(); })
      .def(
          "loan",
          [](PubSocketPy &p, size_t size) {
            void *data = p.socket().loan(size);
            return py::reinterpret_steal<py::object>(PyMemoryView_FromMemory(static_cast<char *>(data), Py_ssize_t(size), PyBUF_WRITE));
          },
          py::arg("size"),
          "A writable memoryview of `size` bytes in the topic's ring for the next message (msgq.h's loan): "
          "fill it, then commit(n). Do not touch it after commit() or cancel_loan().")
      .def("commit", [](PubSocketPy &p, size_t size) { p.socket().commit(size); }, py::arg("size"),
           "Publishes the first `size` bytes of the loan, in place.")
      .def("cancel_loan", [](PubSocketPy &p) { p.socket().cancel_loan(); });

  py::class_<SubSocketPy> sub_socket(m, "SubSocket");
  sub_socket
      .def(py::init([](const std::string &topic, bool conflate, size_t ring_size, int timeout_ms, const std::string &addr) {
             auto s = std::make_unique<SubSocketPy>();
             s->timeout_ms = timeout_ms;
             s->connect(topic, conflate, ring_size, addr);
             return s;
           }),
           py::arg("topic"), py::arg("conflate") = false, py::arg("ring_size") = msgq::kDefaultRingSize,
           py::arg("timeout_ms") = -1, py::arg("addr") = "",
           "A subscriber of `topic` on this host's bus, or (addr: another host) of the service its bridge relays.")
      .def(py::init([]() { return std::make_unique<SubSocketPy>(); }), "An unconnected subscriber: connect() it.")
      .def("_connect", &SubSocketPy::connect, py::arg("topic"), py::arg("conflate"), py::arg("ring_size"),
           py::arg("addr"))
      .def("close", [](SubSocketPy &s) { s.sock.reset(); s.borrowed = nullptr; s.owner = py::none(); },
           "Gives up the subscriber slot.")
      .def("done", [](SubSocketPy &s) { s.socket().done(); },
           "Lockstep mode: done with every message taken so far (msgq.h); receive() and poll() say so before they wait.")
      .def("receive", &SubSocketPy::receive, py::arg("non_blocking") = false, py::arg("timeout_ms") = py::none(),
           "The next message as bytes; None when none arrived in time.")
      .def("receive_view", &SubSocketPy::receive_view, py::arg("non_blocking") = false,
           py::arg("timeout_ms") = py::none(),
           "The next message in place, as a MessageView; None when none arrived in time. Read it, then "
           "check view.intact(): False means it was overwritten meanwhile (and counts in lost()).")
      .def("set_timeout", [](SubSocketPy &s, int ms) { s.timeout_ms = ms; })
      .def("setTimeout", [](SubSocketPy &s, int ms) { s.timeout_ms = ms; })
      .def_property_readonly("timeout_ms", [](const SubSocketPy &s) { return s.timeout_ms; })
      .def_property_readonly("topic", [](const SubSocketPy &s) { return s.socket().topic(); })
      .def("lost", [](const SubSocketPy &s) { return s.socket().lost(); });

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
