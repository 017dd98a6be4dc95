#include "msgq/ring.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>

#include "common/prefix.h"
#include "common/process_identity.h"

namespace msgq {

size_t max_message_size(size_t ring_size) { return ring_size / 2 - sizeof(MessageHeader); }

uint64_t owner_word_of_self() {
  conduit::ProcessIdentity id = conduit::self_identity();
  return uint64_t(uint32_t(id.pid)) << 32 | uint32_t(id.start_ticks);
}

bool owner_alive(uint64_t owner) {
  if (owner == 0) return false;
  pid_t pid = pid_t(owner >> 32);
  uint64_t ticks = conduit::process_start_ticks(pid);
  return ticks != 0 && uint32_t(ticks) == uint32_t(owner);
}

static std::string errno_text(const std::string &what, const std::string &path) {
  return what + " " + path + ": " + strerror(errno);
}

// Creates the file under a temporary name, initialises it, then links it into
// place: a topic file that exists under its real name is always complete.
static void create_ring_file(const std::string &path, size_t ring_bytes) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(errno_text("msgq: cannot create", tmp));
  size_t total = kHeaderBytes + ring_bytes;
  // The first header says no message yet (zeros would read as an empty message).
  const uint32_t none = kNoMessageYet;
  if (ftruncate(fd, total) != 0 ||
      pwrite(fd, &none, sizeof(none), kHeaderBytes + offsetof(MessageHeader, size)) != ssize_t(sizeof(none))) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    errno = e;
    throw Error(errno_text("msgq: cannot size", tmp));
  }
  void *p = mmap(nullptr, kHeaderBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    unlink(tmp.c_str());
    throw Error(errno_text("msgq: cannot map", tmp));
  }
  // cppcheck-suppress legacyUninitvar ; placement new over the fresh mapping
  auto *h = new (p) RingHeader{};
  h->version = kRingVersion;
  h->header_bytes = kHeaderBytes;
  h->ring_bytes = ring_bytes;
  std::atomic_thread_fence(std::memory_order_release);
  h->magic = kRingMagic;
  munmap(p, kHeaderBytes);
  if (link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    unlink(tmp.c_str());
    throw Error(errno_text("msgq: cannot publish", path));
  }
  unlink(tmp.c_str());
}

Ring::Ring(const std::string &topic, size_t ring_bytes) : topic_(topic) {
  try {
    conduit::check_name(topic, "msgq topic");
  } catch (const std::invalid_argument &e) {
    throw Error(e.what());
  }
  if (ring_bytes < 4096 || ring_bytes % 4096 != 0 || ring_bytes > (size_t(1) << 32)) {
    throw Error("msgq topic '" + topic + "': ring size " + std::to_string(ring_bytes) +
                " is invalid: expected a multiple of 4096 between 4 KiB and 4 GiB");
  }
  path_ = conduit::shm_path(topic);
  const std::string &path = path_;
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    create_ring_file(path, ring_bytes);
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) throw Error(errno_text("msgq: cannot open", path));

  struct stat st;
  RingHeader probe{};
  bool readable = fstat(fd, &st) == 0 && size_t(st.st_size) >= kHeaderBytes &&
                  pread(fd, &probe, sizeof(probe), 0) == ssize_t(sizeof(probe));
  std::string bad;
  if (!readable) {
    bad = "file is " + std::to_string(st.st_size) + " bytes, shorter than the msgq header";
  } else if (probe.magic != kRingMagic) {
    bad = "wrong magic (not a msgq ring)";
  } else if (probe.version != kRingVersion) {
    bad = "version " + std::to_string(probe.version) + ", expected " + std::to_string(kRingVersion);
  } else if (probe.header_bytes != kHeaderBytes || probe.ring_bytes < 4096 || probe.ring_bytes % 4096 != 0 ||
             uint64_t(st.st_size) != kHeaderBytes + probe.ring_bytes) {
    bad = "size " + std::to_string(st.st_size) + " does not match its header (ring of " +
          std::to_string(probe.ring_bytes) + " bytes)";
  }
  if (!bad.empty()) {
    close(fd);
    throw Error("msgq: existing shm file " + path + " is unusable: " + bad +
                ". Remove it, or use another CONDUIT_PREFIX.");
  }
  mapped_bytes_ = st.st_size;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  void *p = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) throw Error(errno_text("msgq: cannot map", path));
  header_ = static_cast<RingHeader *>(p);
  data_ = static_cast<char *>(p) + kHeaderBytes;
  bytes_ = probe.ring_bytes;
  mask_ = (bytes_ & (bytes_ - 1)) == 0 ? bytes_ - 1 : 0;
}

bool Ring::replaced() const {
  struct stat st;
  return stat(path_.c_str(), &st) != 0 || uint64_t(st.st_dev) != dev_ || uint64_t(st.st_ino) != ino_;
}

Ring::~Ring() {
  if (header_) munmap(header_, mapped_bytes_);
}

}  // namespace msgq
