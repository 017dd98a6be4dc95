#include "common/process_identity.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace conduit {

uint64_t process_start_ticks(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const char *p = strrchr(buf, ')');
  if (!p || p[1] == 0 || p[2] == 'Z' || p[2] == 'X') return 0;  // gone, or a zombie: dead to us
  // After ")" come fields 3, 4, ...; stop at the start of field 22, starttime.
  int field = 2;
  for (p++; *p && field < 22; p++) {
    if (*p == ' ') field++;
  }
  return strtoull(p, nullptr, 10);
}

ProcessIdentity self_identity() {
  static thread_local pid_t cached_pid = 0;
  static thread_local ProcessIdentity cached;
  pid_t pid = getpid();
  if (pid != cached_pid) {
    cached = {pid, process_start_ticks(pid)};
    cached_pid = pid;
  }
  return cached;
}

bool is_alive(const ProcessIdentity &id) {
  if (id.pid <= 0) return false;
  uint64_t ticks = process_start_ticks(id.pid);
  return ticks != 0 && ticks == id.start_ticks;
}

}  // namespace conduit
