// LogFileReader: frame-by-frame decoding so a damaged frame never yields an event.
#include "loggerd/log_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace loggerd {
namespace {

constexpr uint32_t kZstdMagic = 0xFD2FB528;
constexpr uint32_t kMaxSegments = 512;
constexpr uint64_t kMaxMessageBytes = 256ull << 20;

std::vector<char> read_file(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open log " + path + ": " + strerror(errno));
  struct stat st;
  fstat(fd, &st);
  std::vector<char> data;
  data.reserve(size_t(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      throw std::runtime_error("cannot read log " + path + ": " + strerror(e));
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  close(fd);
  return data;
}

}  // namespace

int64_t capnp_message_size(const char *data, size_t size) {
  if (size < 8) return 0;
  uint32_t segments;
  memcpy(&segments, data, 4);
  segments += 1;
  if (segments == 0 || segments > kMaxSegments) return -1;
  uint64_t header = (4 + 4ull * segments + 7) & ~7ull;
  if (size < header) return 0;
  uint64_t words = 0;
  for (uint32_t i = 0; i < segments; ++i) {
    uint32_t w;
    memcpy(&w, data + 4 + 4 * i, 4);
    words += w;
  }
  if (words == 0 || words * 8 > kMaxMessageBytes) return -1;
  uint64_t total = header + words * 8;
  return size < total ? 0 : int64_t(total);
}

LogFileReader::LogFileReader(const std::string &path, bool strict) : path_(path), strict_(strict) {
  file_ = read_file(path);
  uint32_t magic = 0;
  if (file_.size() >= 4) memcpy(&magic, file_.data(), 4);
  compressed_ = magic == kZstdMagic;
  if (compressed_) {
    dctx_ = ZSTD_createDCtx();
    if (!dctx_) throw std::runtime_error("ZSTD_createDCtx failed");
  }
  if (file_.empty()) damage("empty file (expected at least one event)");
}

LogFileReader::~LogFileReader() { ZSTD_freeDCtx(dctx_); }

void LogFileReader::damage(std::string what) {
  done_ = true;
  warning_ = path_ + ": " + what + "; " + std::to_string(events_) + " intact events before it were read";
  if (strict_) throw std::runtime_error(warning_);
}

bool LogFileReader::refill() {
  if (done_ || pos_ >= file_.size()) return false;
  const char *src = file_.data() + pos_;
  size_t avail = file_.size() - pos_;
  const char *out;
  size_t out_size;
  if (compressed_) {
    uint32_t magic = 0;
    if (avail >= 4) memcpy(&magic, src, 4);
    if (magic != kZstdMagic) {
      damage("no zstd frame at byte " + std::to_string(pos_) + " (bad magic or trailing garbage)");
      return false;
    }
    size_t frame_size = ZSTD_findFrameCompressedSize(src, avail);
    if (ZSTD_isError(frame_size)) {
      damage("truncated or corrupt zstd frame at byte " + std::to_string(pos_) + " (" + ZSTD_getErrorName(frame_size) + ")");
      return false;
    }
    ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only);
    ZSTD_inBuffer in{src, frame_size, 0};
    size_t produced = 0;
    const size_t most = std::min(kMaxFrameBytes, kMaxFileBytes - decoded_);
    auto too_big = [&] {
      damage((most < kMaxFrameBytes ? "the log decodes to more than " + std::to_string(kMaxFileBytes >> 20) + " MiB at byte "
                                    : "zstd frame at byte ") +
             std::to_string(pos_) + (most < kMaxFrameBytes ? "" : " decodes to more than " + std::to_string(kMaxFrameBytes >> 20) + " MiB") +
             " (more than loggerd writes: a decompression bomb, or not a conduit log)");
      return false;
    };
    for (;;) {
      if (frame_.size() * 8 - produced < (1 << 16)) {
        if (produced > most) return too_big();
        frame_.resize(std::min(frame_.size() * 2 + (1 << 14), (most >> 3) + (1 << 14)));
      }
      ZSTD_outBuffer o{reinterpret_cast<char *>(frame_.data()), frame_.size() * 8, produced};
      size_t r = ZSTD_decompressStream(dctx_, &o, &in);
      produced = o.pos;
      if (ZSTD_isError(r)) {
        damage("corrupt zstd frame at byte " + std::to_string(pos_) + " (" + ZSTD_getErrorName(r) + ")");
        return false;
      }
      if (r == 0) break;
      if (in.pos == in.size && o.pos < o.size) {
        damage("zstd frame at byte " + std::to_string(pos_) + " ends early");
        return false;
      }
    }
    if (produced > most) return too_big();
    decoded_ += produced;
    pos_ += frame_size;
    out = reinterpret_cast<const char *>(frame_.data());
    out_size = produced;
  } else {
    out = src;
    out_size = avail;
    pos_ = file_.size();
  }
  // Keep pending_ aligned: move the unread tail to the front, then append.
  size_t tail = pending_bytes_ - pending_pos_;
  std::vector<uint64_t> next((tail + out_size + 7) / 8);
  char *dst = reinterpret_cast<char *>(next.data());
  if (tail) memcpy(dst, reinterpret_cast<const char *>(pending_.data()) + pending_pos_, tail);
  if (out_size) memcpy(dst + tail, out, out_size);  // an empty frame has no output buffer
  pending_.swap(next);
  pending_bytes_ = tail + out_size;
  pending_pos_ = 0;
  return true;
}

bool LogFileReader::next(std::string_view &event) {
  for (;;) {
    const char *p = reinterpret_cast<const char *>(pending_.data()) + pending_pos_;
    size_t avail = pending_bytes_ - pending_pos_;
    int64_t n = capnp_message_size(p, avail);
    if (n < 0) {
      damage("impossible Cap'n Proto message header at event " + std::to_string(events_));
      return false;
    }
    if (n > 0) {
      event = std::string_view(p, size_t(n));
      pending_pos_ += size_t(n);
      events_++;
      return true;
    }
    if (!refill()) {
      if (!done_ && avail > 0) damage("truncated event at the end (" + std::to_string(avail) + " bytes of an incomplete message)");
      done_ = true;
      return false;
    }
  }
}

}  // namespace loggerd
