#include <cstring>

#include "msgq/msgq.h"

namespace msgq {

Message::Message(const void *data, size_t size) {
  char *dst = resize(size);
  if (size) memcpy(dst, data, size);  // memcpy's source must not be null, even for 0 bytes
}

char *Message::resize(size_t size) {
  if (size > capacity_ || !buf_) {
    size_t words = std::max<size_t>(1, (size + 7) / 8);
    buf_.reset(new uint64_t[words]);
    capacity_ = words * 8;
  }
  size_ = size;
  return data();
}

// The seqlock check of the reads made through the view so far: they saw the
// message only if the publisher had not declared its bytes overwritten yet.
bool MessageView::intact() const {
  if (overwritten_upto_ == nullptr) return true;
  std::atomic_thread_fence(std::memory_order_acquire);
  if (overwritten_upto_->load(std::memory_order_relaxed) <= pos_) return true;
  if (lost_ != nullptr) ++*lost_;
  lost_ = nullptr;
  return false;
}

bool SubSocket::receive_view(MessageView &view, int timeout_ms) {
  if (!receive(view.copy_, timeout_ms)) return false;
  view.data_ = view.copy_.data();
  view.size_ = view.copy_.size();
  view.seq_ = view.copy_.seq();
  view.overwritten_upto_ = nullptr;
  return true;
}

}  // namespace msgq
