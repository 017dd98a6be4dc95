// libFuzzer target log_file_reader: the input is a log file (zstd or raw).
// LogFileReader must return whole events or stop with a warning; never crash,
// and never use more memory than a log's frames can justify (libFuzzer's
// -rss_limit_mb, set by tools/fuzz, turns a decompression bomb into a crash).
// Each event it returns must hold exactly one stream-framed message.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "loggerd/log_file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path = "/tmp/fuzz_log_file_reader_" + std::to_string(getpid()) + ".zst";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, data, size) != ssize_t(size)) abort();
  close(fd);

  for (bool strict : {false, true}) {
    try {
      loggerd::LogFileReader reader(path, strict);
      std::string_view event;
      while (reader.next(event)) {
        if (loggerd::capnp_message_size(event.data(), event.size()) != int64_t(event.size())) abort();
      }
    } catch (const std::runtime_error &) {
      if (!strict) abort();  // only strict mode throws for damage
    }
  }
  unlink(path.c_str());
  return 0;
}
