#pragma once
// Helpers shared by loggerd's C++ tests: temp dirs, file contents, fake events.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace loggerd_test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/loggerd_test_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

inline std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline bool exists(const std::string &path) { return access(path.c_str(), F_OK) == 0; }

// A Cap'n Proto stream-framed message (one segment) with `words` random payload words.
inline std::string fake_event(std::mt19937_64 &rng, uint32_t words) {
  std::string s(8 + 8 * size_t(words), '\0');
  uint32_t hdr[2] = {0, words};
  memcpy(s.data(), hdr, 8);
  for (uint32_t i = 0; i < words; ++i) {
    uint64_t v = rng() & 0x0f0f0f0f0f0f0f0full;  // compressible but not trivially
    memcpy(s.data() + 8 + 8 * i, &v, 8);
  }
  return s;
}

}  // namespace loggerd_test
