#include "msgq/introspect.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/prefix.h"
#include "msgq/ring.h"

namespace msgq {

std::vector<TopicInfo> list_topics() {
  std::vector<TopicInfo> topics;
  std::string dir = conduit::shm_dir();
  DIR *d = opendir(dir.c_str());
  if (!d) return topics;
  while (dirent *e = readdir(d)) {
    std::string path = dir + "/" + e->d_name;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && size_t(st.st_size) >= kHeaderBytes) {
      p = mmap(nullptr, kHeaderBytes, PROT_READ, MAP_SHARED, fd, 0);
    }
    close(fd);
    if (p == MAP_FAILED) continue;
    const auto *h = static_cast<const RingHeader *>(p);
    if (h->magic == kRingMagic && h->version == kRingVersion) {
      TopicInfo t{e->d_name, h->ring_bytes, 0, h->write_seq.load(), 0};
      uint64_t pub = h->publisher.load();
      if (owner_alive(pub)) t.publisher_pid = int(pub >> 32);
      for (const SubscriberSlot &s : h->slots) t.subscribers += owner_alive(s.owner.load());
      topics.push_back(t);
    }
    munmap(p, kHeaderBytes);
  }
  closedir(d);
  std::sort(topics.begin(), topics.end(), [](auto &a, auto &b) { return a.name < b.name; });
  return topics;
}

std::vector<std::string> remove_unused_topics() {
  std::vector<std::string> removed;
  std::string dir = conduit::shm_dir();
  for (const TopicInfo &t : list_topics())
    if (t.publisher_pid == 0 && t.subscribers == 0 && unlink((dir + "/" + t.name).c_str()) == 0) removed.push_back(t.name);
  return removed;
}

}  // namespace msgq
