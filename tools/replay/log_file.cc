#include "tools/replay/log_file.h"

#include <array>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <capnp/schema.h>
#include <zstd.h>

namespace replay {

namespace {

// Union member names by discriminant, built once from the compiled schema.
const std::vector<std::string> &member_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (auto field : capnp::Schema::from<cereal::Event>().getUnionFields()) {
      uint16_t d = field.getProto().getDiscriminantValue();
      if (out.size() <= d) out.resize(d + 1);
      out[d] = field.getProto().getName().cStr();
    }
    return out;
  }();
  return names;
}

std::string read_whole(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw LogError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct DCtxFree {
  void operator()(ZSTD_DCtx *c) const { ZSTD_freeDCtx(c); }
};

// Largest segment table we accept: loggerd's events have one or two segments.
constexpr uint32_t kMaxSegments = 512;

// Words of the message starting at `words`, or 0 when `avail` words do not hold
// all of it yet. Throws on a segment table no writer produces.
size_t message_words(const capnp::word *words, size_t avail, const std::string &path, size_t offset) {
  if (avail == 0) return 0;
  uint32_t count = reinterpret_cast<const uint32_t *>(words)[0] + 1;
  if (count > kMaxSegments) {
    throw LogError(path + ": malformed event at decompressed byte " + std::to_string(offset) + ": " +
                   std::to_string(count) + " segments (expected at most " + std::to_string(kMaxSegments) + ")");
  }
  size_t need = capnp::expectedSizeInWordsFromPrefix(kj::arrayPtr(words, avail));
  return need <= avail ? need : 0;
}

}  // namespace

std::string_view service_name(cereal::Event::Which which) {
  const auto &names = member_names();
  size_t i = static_cast<size_t>(which);
  return i < names.size() ? std::string_view(names[i]) : std::string_view();
}

LogFile LogFile::read(const std::string &path) { return parse(read_whole(path), path); }

LogFile LogFile::parse(std::string_view data, const std::string &path) {
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  std::vector<capnp::word> out(std::max<size_t>(data.size() / sizeof(capnp::word) * 4, 1024));
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t produced = 0;  // bytes
  size_t pending = 0;   // ZSTD_decompressStream's last hint: 0 = at a frame boundary
  size_t frames_end = 0;  // input bytes of the complete frames so far
  while (in.pos < in.size) {
    if (produced == out.size() * sizeof(capnp::word)) out.resize(out.size() * 2);
    ZSTD_outBuffer o{reinterpret_cast<char *>(out.data()), out.size() * sizeof(capnp::word), produced};
    size_t before = in.pos;
    pending = ZSTD_decompressStream(dctx.get(), &o, &in);
    if (ZSTD_isError(pending)) {
      throw LogError(path + ": bad zstd data near byte " + std::to_string(before) + " of " +
                     std::to_string(data.size()) + " (" + ZSTD_getErrorName(pending) +
                     "); expected a series of complete zstd frames");
    }
    produced = o.pos;
    if (pending == 0) frames_end = in.pos;
  }
  if (data.empty()) throw LogError(path + ": empty file; expected zstd frames of Events");

  LogFile log;
  size_t total_words = produced / sizeof(capnp::word);
  out.resize(total_words);
  out.shrink_to_fit();
  log.buffer_ = std::move(out);
  log.truncated_bytes_ = (pending != 0 ? data.size() - frames_end : 0) + produced % sizeof(capnp::word);

  const auto &names = member_names();
  size_t pos = 0;
  while (pos < total_words) {
    const capnp::word *w = log.buffer_.data() + pos;
    size_t n = message_words(w, total_words - pos, path, pos * sizeof(capnp::word));
    if (n == 0) {  // the writer stopped inside this event
      log.truncated_bytes_ += (total_words - pos) * sizeof(capnp::word);
      break;
    }
    try {
      capnp::FlatArrayMessageReader reader(kj::arrayPtr(w, n));
      auto event = reader.getRoot<cereal::Event>();
      event.totalSize();  // walks every pointer: a corrupt event throws here, not in a consumer
      auto which = event.which();
      if (static_cast<size_t>(which) < names.size()) {
        log.events_.push_back({event.getLogMonoTime(), which, service_name(which), w, n});
      }
    } catch (const kj::Exception &e) {
      throw LogError(path + ": malformed event #" + std::to_string(log.events_.size()) + " at decompressed byte " +
                     std::to_string(pos * sizeof(capnp::word)) + ": " + e.getDescription().cStr());
    }
    pos += n;
  }
  return log;
}

uint64_t LogFile::first_mono_time(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw LogError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  std::vector<capnp::word> out(1 << 13);
  std::array<char, 1 << 14> chunk;
  size_t produced = 0;
  while (f) {
    f.read(chunk.data(), chunk.size());
    ZSTD_inBuffer in{chunk.data(), size_t(f.gcount()), 0};
    while (in.pos < in.size) {
      if (produced == out.size() * sizeof(capnp::word)) out.resize(out.size() * 2);
      ZSTD_outBuffer o{reinterpret_cast<char *>(out.data()), out.size() * sizeof(capnp::word), produced};
      size_t r = ZSTD_decompressStream(dctx.get(), &o, &in);
      if (ZSTD_isError(r)) throw LogError(path + ": bad zstd data at the start (" + ZSTD_getErrorName(r) + ")");
      produced = o.pos;
      size_t n = message_words(out.data(), produced / sizeof(capnp::word), path, 0);
      if (n != 0) {
        try {
          capnp::FlatArrayMessageReader reader(kj::arrayPtr(out.data(), n));
          return reader.getRoot<cereal::Event>().getLogMonoTime();
        } catch (const kj::Exception &e) {
          throw LogError(path + ": malformed first event: " + e.getDescription().cStr());
        }
      }
    }
  }
  throw LogError(path + ": no complete event in the file");
}

}  // namespace replay
