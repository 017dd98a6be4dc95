#include "common/prefix.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace conduit {

std::string prefix() {
  const char *p = std::getenv("CONDUIT_PREFIX");
  return p ? p : "";
}

void check_name(const std::string &name, const char *what) {
  bool ok = !name.empty() && name.size() <= 128 && name != "." && name != "..";
  for (char c : name) {
    ok = ok && (isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.');
  }
  if (!ok || name.find("..") != std::string::npos) {
    throw std::invalid_argument(std::string(what) + " '" + name +
                                "' is invalid: expected 1-128 characters of [A-Za-z0-9_.-], not '.', no '/' or '..'");
  }
}

std::string shm_dir() {
  std::string p = prefix();
  if (!p.empty()) check_name(p, "CONDUIT_PREFIX");
  std::string dir = p.empty() ? "/dev/shm/conduit" : "/dev/shm/conduit_" + p;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create " + dir + ": " + strerror(errno));
  }
  // It may have been there before us: made by another user to read or rename
  // our rings and inject messages. Only a directory of ours that nobody else can
  // enter is used.
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + dir + ": " + strerror(errno));
  const char *wrong = !S_ISDIR(st.st_mode)          ? "is not a directory"
                      : st.st_uid != geteuid()       ? "is owned by another user"
                      : (st.st_mode & 077) != 0      ? "can be entered by other users"
                                                     : nullptr;
  if (wrong != nullptr) {
    char detail[64];
    snprintf(detail, sizeof(detail), " (uid %u, mode %04o)", unsigned(st.st_uid), unsigned(st.st_mode & 07777));
    throw std::runtime_error(dir + " " + wrong + detail + ": refusing to use it for conduit's shared memory; remove it "
                             "(it may hold another user's files) or pick another CONDUIT_PREFIX");
  }
  return dir;
}

std::string shm_path(const std::string &name) { return shm_dir() + "/" + name; }

std::string socket_path(const std::string &name) { return shm_dir() + "/" + name + ".sock"; }

}  // namespace conduit
