#include "camerad/device_return.h"

namespace camerad {

DeviceReturn::DeviceReturn(size_t buffers, size_t keep_queued, uint64_t grace_ns)
    : keep_queued_(keep_queued), grace_ns_(grace_ns) {
  for (size_t i = 0; i < buffers; i++) out_.push_back({i, 0});
}

void DeviceReturn::sent(size_t index, uint64_t now_ns) { out_.push_back({index, now_ns + grace_ns_}); }

int DeviceReturn::refill(uint64_t now_ns, const std::function<size_t()> &queued,
                         const std::function<bool(size_t)> &give) {
  for (auto it = out_.begin(); it != out_.end() && queued() < keep_queued_;) {
    if (it->due_ns > now_ns) return int((it->due_ns - now_ns + 999999) / 1000000);
    it = give(it->index) ? out_.erase(it) : it + 1;
  }
  return queued() >= keep_queued_ || out_.empty() ? -1 : 0;
}

}  // namespace camerad
