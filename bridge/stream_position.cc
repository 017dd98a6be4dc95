#include "bridge/stream_position.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/prefix.h"

namespace bridge {

struct StreamPosition::Record {
  std::atomic<uint64_t> next;
  uint64_t valid;  // kValid once `next` holds a position
  char peer[240];  // NUL-terminated
};

namespace {
constexpr uint64_t kValid = 0x6272696467654e31;  // "bridgeN1"
}

StreamPosition::StreamPosition(const std::string &service, const std::string &peer)
    : path_(conduit::shm_path(service + ".bridge_in")) {
  if (peer.size() >= sizeof(Record::peer)) throw std::runtime_error("bridge: peer name too long: " + peer);
  const int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || ftruncate(fd, sizeof(Record)) != 0) {
    const std::string err = strerror(errno);
    if (fd >= 0) close(fd);
    throw std::runtime_error("bridge: cannot keep the stream position in " + path_ + ": " + err);
  }
  void *p = mmap(nullptr, sizeof(Record), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("bridge: cannot map " + path_ + ": " + strerror(errno));
  rec_ = static_cast<Record *>(p);
  if (rec_->valid == kValid && strncmp(rec_->peer, peer.c_str(), sizeof(rec_->peer)) == 0) {
    resumed_ = rec_->next.load();
  } else {
    rec_->valid = 0;
    memset(rec_->peer, 0, sizeof(rec_->peer));
    memcpy(rec_->peer, peer.data(), peer.size());
  }
}

StreamPosition::~StreamPosition() { munmap(rec_, sizeof(Record)); }

void StreamPosition::store(uint64_t next_seq) {
  rec_->next.store(next_seq, std::memory_order_relaxed);
  rec_->valid = kValid;
}

void StreamPosition::remove() { unlink(path_.c_str()); }

}  // namespace bridge
