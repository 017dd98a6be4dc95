#pragma once
// The I/O engine under loggerd's Writer: runs chains of writes (and a final
// fsync) on files at explicit offsets. Two implementations with one contract:
//
//   io_uring  one ring per process (liburing). queue() only fills SQEs; submit()
//             is the single io_uring_enter of a loop turn; completions are read
//             from the CQ ring without a syscall. Writes come from buffers
//             registered once (write_fixed). A chain ending in an fsync is
//             linked (IOSQE_IO_LINK) so a failed or short write cancels the
//             rest; other chains' writes are not, since each link step would
//             wait for the next io_uring_enter (deferred task work).
//   pwrite    the fallback: submit() runs every queued chain with pwrite/fsync,
//             stopping a chain at its first failed or short op.
//
//   io_uring_sqpoll  the same ring set up with IORING_SETUP_SQPOLL: a kernel
//             thread of this process polls the SQ ring, so submit() makes no
//             syscall while it is awake (it sleeps after LOGGERD_SQPOLL_IDLE_MS,
//             default 1000, without submissions; LOGGERD_SQPOLL_CPU pins it).
//             That thread's CPU time counts in the process's.
//
// create_backend() picks io_uring unless LOGGERD_IO=pwrite or io_uring_sqpoll,
// and falls back with one log line on stderr saying why when the kernel refuses
// (SQPOLL -> plain io_uring -> pwrite; EPERM, ENOSYS, kernel.io_uring_disabled,
// seccomp).
//
// Threads: one thread uses a backend. Errors of ops are reported as completions
// (negative errno, or a short byte count); setup errors throw std::runtime_error.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loggerd {

struct IoOp {
  enum Kind : uint8_t { kWrite, kFsync } kind = kWrite;
  int fd = -1;
  int buf_index = -1;  // registered buffer holding `data`
  const char *data = nullptr;
  uint32_t len = 0;
  uint64_t offset = 0;
  uint64_t tag = 0;  // returned in the completion
};

struct IoCompletion {
  uint64_t tag;
  int64_t result;  // bytes written (write), 0 (fsync), or -errno; -ECANCELED after a failed link
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;
  virtual const char *name() const = 0;
  // Longest chain queue() accepts.
  virtual size_t max_chain() const = 0;
  // Queues one chain. If it ends in an fsync, op i+1 runs only after op i
  // fully succeeded (else completes with -ECANCELED). Otherwise its writes are
  // independent: after a failed one the others may or may not run.
  virtual void queue(const IoOp *ops, size_t n) = 0;
  // Hands everything queued to the kernel. With sleep_until_ns (CLOCK_MONOTONIC)
  // in the future it also waits until then, so a loop turn's pacing costs no
  // extra syscall: io_uring submits and sleeps in one io_uring_enter.
  // io_uring hands over finished ops only inside an io_uring_enter; one that
  // queues nothing makes none unless `collect` asks for the finished ops anyway.
  virtual void submit(uint64_t sleep_until_ns = 0, bool collect = false) = 0;
  // Appends finished ops to `out`. wait=true blocks until at least one finished
  // (returns at once when nothing is in flight).
  virtual void reap(std::vector<IoCompletion> &out, bool wait) = 0;
  virtual size_t in_flight() const = 0;
};

// `buffers` are registered with the kernel once (io_uring) and must stay valid
// for the backend's lifetime. mode: "auto" (io_uring, else pwrite), "io_uring"
// (throws if refused), "io_uring_sqpoll" (falls back to io_uring), "pwrite".
// "auto" honours LOGGERD_IO=pwrite|io_uring|io_uring_sqpoll.
std::unique_ptr<IoBackend> create_backend(const std::vector<iovec> &buffers, const std::string &mode = "auto");

// Sleeps until CLOCK_MONOTONIC reaches `ns` (returns at once if it has).
void sleep_until(uint64_t ns);

struct SqpollOptions {
  unsigned idle_ms = 1000;  // the SQ thread sleeps after this long without submissions
  int cpu = -1;             // CPU to pin it to; -1 = anywhere
};
// With sqpoll, an SQPOLL ring (no fallback here); nullptr and why_not when refused.
std::unique_ptr<IoBackend> create_uring_backend(const std::vector<iovec> &buffers, std::string *why_not,
                                                const SqpollOptions *sqpoll = nullptr);
std::unique_ptr<IoBackend> create_pwrite_backend();

}  // namespace loggerd
