// io_uring implementation of IoBackend (see io_backend.h).
#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/clock.h"
#include "loggerd/io_backend.h"

namespace loggerd {
namespace {

constexpr unsigned kQueueDepth = 512;

class UringBackend : public IoBackend {
 public:
  ~UringBackend() override {
    if (!ready_) return;
    std::vector<IoCompletion> sink;
    while (in_flight_ > 0) UringBackend::reap(sink, true);  // this class's: no dynamic binding in a destructor
    io_uring_queue_exit(&ring_);
  }

  // Returns an error description instead of throwing so the caller can fall back.
  std::string init(const std::vector<iovec> &buffers, const SqpollOptions *sqpoll) {
    io_uring_params p{};
    int r;
    if (sqpoll) {
      // A kernel thread polls the SQ ring: submitting is a store to shared
      // memory, and completions are posted straight to the CQ ring.
      p.flags = IORING_SETUP_SQPOLL | (sqpoll->cpu >= 0 ? IORING_SETUP_SQ_AFF : 0);
      p.sq_thread_idle = sqpoll->idle_ms;
      p.sq_thread_cpu = unsigned(std::max(sqpoll->cpu, 0));
      r = io_uring_queue_init_params(kQueueDepth, &ring_, &p);
      if (r < 0) return std::string("io_uring_setup(IORING_SETUP_SQPOLL) failed: ") + strerror(-r);
      sqpoll_ = true;
    } else {
      // One thread submits and reaps (io_backend.h), so completions can wait as
      // deferred task work until that thread asks for them: the workers finishing
      // a turn's writes do not wake it once per write (kernel 6.1+; older kernels
      // refuse the flags and get a plain ring).
      p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
      r = io_uring_queue_init_params(kQueueDepth, &ring_, &p);
      if (r == -EINVAL) {
        p = io_uring_params{};
        r = io_uring_queue_init_params(kQueueDepth, &ring_, &p);
      }
      if (r < 0) return std::string("io_uring_setup failed: ") + strerror(-r);
    }
    if (!buffers.empty()) {
      r = io_uring_register_buffers(&ring_, buffers.data(), buffers.size());
      if (r < 0) {
        io_uring_queue_exit(&ring_);
        return std::string("io_uring_register_buffers failed: ") + strerror(-r);
      }
    }
    ready_ = true;
    return "";
  }

  const char *name() const override { return sqpoll_ ? "io_uring_sqpoll" : "io_uring"; }
  size_t max_chain() const override { return kQueueDepth; }

  void queue(const IoOp *ops, size_t n) override {
    if (n > kQueueDepth) throw std::invalid_argument("io_uring chain of " + std::to_string(n) + " ops, at most " + std::to_string(kQueueDepth));
    // A chain must not straddle two io_uring_enter calls: the kernel ends a link at a submission boundary.
    if (io_uring_sq_space_left(&ring_) < n) submit(0, false);
    bool linked = ops[n - 1].kind == IoOp::kFsync;
    for (size_t i = 0; i < n; ++i) {
      const IoOp &op = ops[i];
      io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
      if (op.kind == IoOp::kWrite) {
        if (op.buf_index >= 0) io_uring_prep_write_fixed(sqe, op.fd, op.data, op.len, op.offset, op.buf_index);
        else io_uring_prep_write(sqe, op.fd, op.data, op.len, op.offset);
      } else {
        io_uring_prep_fsync(sqe, op.fd, 0);
      }
      io_uring_sqe_set_data64(sqe, op.tag);
      if (linked && i + 1 < n) sqe->flags |= IOSQE_IO_LINK;
    }
    queued_ += n;
  }

  void submit(uint64_t sleep_until_ns, bool collect) override {
    uint64_t now = sleep_until_ns ? conduit::mono_ns() : 0;
    if (sqpoll_) {
      // No syscall unless the SQ thread went idle (liburing wakes it then);
      // completions need none, so `collect` has nothing to do.
      if (queued_ > 0) {
        int r = io_uring_submit(&ring_);
        if (r < 0) throw std::runtime_error(std::string("io_uring_submit failed: ") + strerror(-r));
        in_flight_ += queued_;
        queued_ = 0;
      }
      if (sleep_until_ns > now) sleep_until(sleep_until_ns);
      return;
    }
    if (sleep_until_ns > now && (ring_.features & IORING_FEAT_EXT_ARG)) {
      // Ask for more completions than can come, so the call returns at the deadline.
      uint64_t rel = sleep_until_ns - now;
      __kernel_timespec ts{int64_t(rel / 1000000000), int64_t(rel % 1000000000)};
      io_uring_cqe *cqe;
      int r = io_uring_submit_and_wait_timeout(&ring_, &cqe, unsigned(in_flight_ + queued_ + 1), &ts, nullptr);
      if (r < 0 && r != -ETIME && r != -EINTR) throw std::runtime_error(std::string("io_uring_enter failed: ") + strerror(-r));
      in_flight_ += queued_;
      queued_ = 0;
      return;
    }
    if (queued_ > 0 || (collect && in_flight_ > 0)) {
      int r;
      // Also runs deferred completions (see init), so reap() finds them.
      do r = io_uring_submit_and_get_events(&ring_); while (r == -EINTR);
      if (r < 0) throw std::runtime_error(std::string("io_uring_submit failed: ") + strerror(-r));
      in_flight_ += queued_;
      queued_ = 0;
    }
    if (sleep_until_ns > now) sleep_until(sleep_until_ns);
  }

  void reap(std::vector<IoCompletion> &out, bool wait) override {
    if (wait && in_flight_ > 0) {
      io_uring_cqe *cqe;
      int r;
      do r = io_uring_wait_cqe(&ring_, &cqe); while (r == -EINTR);
      if (r < 0) throw std::runtime_error(std::string("io_uring_wait_cqe failed: ") + strerror(-r));
    }
    io_uring_cqe *cqes[64];
    unsigned got;
    while ((got = io_uring_peek_batch_cqe(&ring_, cqes, 64)) > 0) {
      for (unsigned i = 0; i < got; ++i) out.push_back({io_uring_cqe_get_data64(cqes[i]), cqes[i]->res});
      io_uring_cq_advance(&ring_, got);
      in_flight_ -= got;
    }
  }

  size_t in_flight() const override { return in_flight_ + queued_; }

 private:
  io_uring ring_{};
  bool ready_ = false, sqpoll_ = false;
  size_t queued_ = 0, in_flight_ = 0;
};

}  // namespace

std::unique_ptr<IoBackend> create_uring_backend(const std::vector<iovec> &buffers, std::string *why_not,
                                                const SqpollOptions *sqpoll) {
  auto b = std::make_unique<UringBackend>();
  std::string err = b->init(buffers, sqpoll);
  if (!err.empty()) {
    if (why_not) *why_not = err;
    return nullptr;
  }
  return b;
}

}  // namespace loggerd
