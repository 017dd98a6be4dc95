#include "common/watchdog.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/prefix.h"

namespace conduit {

static std::atomic<uint64_t> *map_heartbeat_word() {
  std::string dir = shm_dir() + "/watchdog";
  mkdir(dir.c_str(), 0700);
  std::string path = dir + "/" + std::to_string(getpid());
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, sizeof(uint64_t)) != 0) {
    fprintf(stderr, "watchdog: cannot create %s: %s\n", path.c_str(), strerror(errno));
    if (fd >= 0) close(fd);
    return nullptr;
  }
  void *p = mmap(nullptr, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? nullptr : static_cast<std::atomic<uint64_t> *>(p);
}

// The heartbeat word of this process; null until mapped (and again in a forked
// child, which needs a file of its own). Kicking is then one store: no syscall.
static std::atomic<std::atomic<uint64_t> *> g_word{nullptr};
static std::atomic<bool> g_mapped{false};
static std::mutex g_mu;

void watchdog_kick() {
  if (!g_mapped.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_mapped.load(std::memory_order_relaxed)) {
      static bool registered = pthread_atfork(nullptr, nullptr, [] { g_mapped.store(false); }) == 0;
      (void)registered;
      g_word.store(map_heartbeat_word());
      g_mapped.store(true, std::memory_order_release);
    }
  }
  if (auto *word = g_word.load(std::memory_order_relaxed)) word->store(mono_ns(), std::memory_order_relaxed);
}

}  // namespace conduit
