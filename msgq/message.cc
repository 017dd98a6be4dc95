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

}  // namespace msgq
