#include "common/prefix.h"

#include <sys/stat.h>

#include <cerrno>
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
                                "' is invalid: expected 1-128 characters of [A-Za-z0-9_.-], no '/' or '..'");
  }
}

std::string shm_dir() {
  std::string p = prefix();
  if (!p.empty()) check_name(p, "CONDUIT_PREFIX");
  std::string dir = p.empty() ? "/dev/shm/conduit" : "/dev/shm/conduit_" + p;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create " + dir + ": " + strerror(errno));
  }
  return dir;
}

std::string shm_path(const std::string &name) { return shm_dir() + "/" + name; }

std::string socket_path(const std::string &name) { return shm_dir() + "/" + name + ".sock"; }

}  // namespace conduit
