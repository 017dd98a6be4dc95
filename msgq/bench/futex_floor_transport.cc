// futex_floor: the least work a copying shared-memory transport can do to
// move one message to a sleeping process in another address space — one
// memcpy in, a seq bump, FUTEX_WAKE when someone sleeps, FUTEX_WAIT on the
// other side, one memcpy out. Shared (not private) futexes, as a cross-process
// bus must use. A single slot: good for ping-pong only, not for throughput.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

#include "msgq/bench/shared_region.h"
#include "msgq/bench/transports.h"

namespace msgq_bench {
namespace {

long futex(std::atomic<uint32_t> *word, int op, uint32_t val, const timespec *timeout) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), op, val, timeout, nullptr, 0);
}

class FutexFloor : public Transport {
 public:
  explicit FutexFloor(const TransportConfig &cfg) : size_(cfg.size), buf_(cfg.size, 'f') {
    if (cfg.pub_channel != kNoChannel) out_ = cfg.shared->channel(cfg.pub_channel);
    if (cfg.sub_channel != kNoChannel) {
      in_ = cfg.shared->channel(cfg.sub_channel);
      seen_ = in_->seq.load();
    }
  }

  void send(uint64_t seq) override {
    memcpy(buf_.data(), &seq, sizeof(seq));
    memcpy(out_->payload(), buf_.data(), size_);
    out_->seq.fetch_add(1);
    if (out_->waiters.load() > 0) futex(&out_->seq, FUTEX_WAKE, 1, nullptr);
  }

  bool receive(uint64_t &seq, int timeout_ms) override {
    if (in_->seq.load() == seen_) {
      if (timeout_ms == 0) return false;
      timespec rel{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
      in_->waiters.fetch_add(1);
      while (in_->seq.load() == seen_) {
        if (futex(&in_->seq, FUTEX_WAIT, seen_, timeout_ms < 0 ? nullptr : &rel) != 0 && errno == ETIMEDOUT) break;
      }
      in_->waiters.fetch_sub(1);
      if (in_->seq.load() == seen_) return false;
    }
    seen_ = in_->seq.load(std::memory_order_acquire);
    memcpy(buf_.data(), in_->payload(), size_);
    seq = read_seq("futex_floor", buf_.data(), size_, size_);
    return true;
  }

 private:
  size_t size_;
  std::vector<char> buf_;
  FutexChannel *out_ = nullptr, *in_ = nullptr;
  uint32_t seen_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_futex_floor(const TransportConfig &cfg) { return std::make_unique<FutexFloor>(cfg); }

}  // namespace msgq_bench
