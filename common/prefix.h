#pragma once
// Where conduit keeps its shared state. CONDUIT_PREFIX=name isolates a whole
// pipeline: every shm file, socket and params dir of that pipeline lives under
// a name that includes it, so two pipelines on one machine never meet.
//
//   shm_dir()          /dev/shm/conduit[_<prefix>]       (created 0700)
//   shm_path(topic)    <shm_dir>/<topic>
//   socket_path(name)  <shm_dir>/<name>.sock
//   params_dir()       $CONDUIT_PARAMS_DIR or <shm_dir>/params
//
// Thread-safe; reads the environment on every call so tests can switch prefixes.
#include <string>

namespace conduit {

std::string prefix();            // "" when CONDUIT_PREFIX is unset
// Creates the directory (0700) if missing. Throws std::runtime_error when it
// exists but is not a directory of this user that only this user can enter.
std::string shm_dir();
std::string shm_path(const std::string &name);
std::string socket_path(const std::string &name);

// Throws std::invalid_argument unless `name` is a safe single path component:
// non-empty, at most 128 chars of [A-Za-z0-9_.-], not ".", no ".." anywhere, no "/".
void check_name(const std::string &name, const char *what);

}  // namespace conduit
