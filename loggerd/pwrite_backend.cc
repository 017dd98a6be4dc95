// pwrite implementation of IoBackend: the fallback when io_uring is refused, and
// the baseline the benchmark compares io_uring against. Same chain semantics.
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "loggerd/io_backend.h"

namespace loggerd {
namespace {

class PwriteBackend : public IoBackend {
 public:
  const char *name() const override { return "pwrite"; }
  size_t max_chain() const override { return 1 << 20; }

  void queue(const IoOp *ops, size_t n) override {
    chains_.emplace_back(ops, ops + n);
    queued_ += n;
  }

  void submit(uint64_t sleep_until_ns, bool) override {
    for (auto &chain : chains_) {
      bool broken = false;
      for (const IoOp &op : chain) {
        int64_t res;
        if (broken) {
          res = -ECANCELED;
        } else if (op.kind == IoOp::kWrite) {
          ssize_t w;
          do w = pwrite(op.fd, op.data, op.len, op.offset); while (w < 0 && errno == EINTR);
          res = w < 0 ? -errno : w;
          broken = res != int64_t(op.len);
        } else {
          res = fsync(op.fd) < 0 ? -errno : 0;
          broken = res != 0;
        }
        done_.push_back({op.tag, res});
      }
    }
    chains_.clear();
    queued_ = 0;
    if (sleep_until_ns > 0) sleep_until(sleep_until_ns);
  }

  void reap(std::vector<IoCompletion> &out, bool wait) override {
    out.insert(out.end(), done_.begin(), done_.end());
    done_.clear();
  }

  size_t in_flight() const override { return queued_ + done_.size(); }

 private:
  std::vector<std::vector<IoOp>> chains_;
  std::vector<IoCompletion> done_;
  size_t queued_ = 0;
};

}  // namespace

std::unique_ptr<IoBackend> create_pwrite_backend() { return std::make_unique<PwriteBackend>(); }

}  // namespace loggerd
