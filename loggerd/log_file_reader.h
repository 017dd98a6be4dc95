#pragma once
// LogFileReader: the events of one log file, in order, as raw Cap'n Proto
// stream-framed messages. Reads zstd logs (a series of frames; each frame is
// checked, content checksum included, before any of its events is returned)
// and uncompressed logs (detected by the absence of the zstd magic).
//
// Damage (truncation, a flipped bit, a torn last frame, an empty file) ends the
// stream: every intact event before it is returned, then next() returns false
// and warning() says what was found where. With strict=true the damage throws
// std::runtime_error instead. A file that cannot be opened always throws.
//
// Caps (a 32 KB file can decode to gigabytes): a zstd frame decodes to at most
// kMaxFrameBytes and a file to at most kMaxFileBytes; past either, the reader
// stops with a warning, as at damage. loggerd's frames end at 1 MiB of input or
// one event (ZstdLogOptions), and a segment's log is far below the file cap.
//
// Events returned by next() point into the reader's buffer and stay valid until
// the next call; they are 8-byte aligned. One reader, one thread.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <zstd.h>

namespace loggerd {

inline constexpr size_t kMaxFrameBytes = size_t(64) << 20;
inline constexpr size_t kMaxFileBytes = size_t(1) << 30;

class LogFileReader {
 public:
  explicit LogFileReader(const std::string &path, bool strict = false);
  ~LogFileReader();
  LogFileReader(const LogFileReader &) = delete;
  LogFileReader &operator=(const LogFileReader &) = delete;

  bool next(std::string_view &event);
  const std::string &warning() const { return warning_; }  // empty when the file was intact
  uint64_t events() const { return events_; }
  bool compressed() const { return compressed_; }

 private:
  bool refill();        // adds the next frame (or raw chunk) to pending_; false at end or damage
  void damage(std::string what);

  std::string path_;
  bool strict_;
  std::vector<char> file_;   // the whole compressed file (logs are small compared with their content)
  size_t pos_ = 0;           // next unread byte of file_
  bool compressed_ = false, done_ = false;
  ZSTD_DCtx *dctx_ = nullptr;
  std::vector<uint64_t> pending_;  // decoded bytes not yet returned, 8-byte aligned
  size_t pending_bytes_ = 0, pending_pos_ = 0;
  std::vector<uint64_t> frame_;    // output of the frame being decoded
  size_t decoded_ = 0;             // bytes of frames decoded so far
  uint64_t events_ = 0;
  std::string warning_;
};

// Size of the Cap'n Proto stream-framed message at the start of `data`:
// 0 when `size` does not yet hold the whole message, -1 when the header is impossible.
int64_t capnp_message_size(const char *data, size_t size);

}  // namespace loggerd
