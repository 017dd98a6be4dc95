#include "streamd/byte_range.h"

#include <charconv>
#include <string_view>

namespace streamd {

namespace {

bool parse_u64(std::string_view s, uint64_t *out) {
  if (s.empty() || s.size() > 19) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

ByteRange parse_range(const std::string *header, uint64_t size) {
  ByteRange r;
  r.length = size;
  if (!header) return r;
  std::string_view h = *header;
  if (h.substr(0, 6) != "bytes=") return {ByteRange::kMalformed};
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return {ByteRange::kUnsatisfiable};
  size_t dash = h.find('-');
  if (dash == std::string_view::npos) return {ByteRange::kMalformed};
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  uint64_t first, last;
  if (a.empty()) {  // suffix: the last n bytes
    if (!parse_u64(b, &last)) return {ByteRange::kMalformed};
    if (last == 0 || size == 0) return {ByteRange::kUnsatisfiable};
    r.start = last >= size ? 0 : size - last;
  } else {
    if (!parse_u64(a, &first)) return {ByteRange::kMalformed};
    if (!b.empty() && (!parse_u64(b, &last) || last < first)) return {ByteRange::kMalformed};
    if (first >= size) return {ByteRange::kUnsatisfiable};
    if (b.empty()) last = size - 1;
    r.start = first;
    if (last >= size) last = size - 1;
    r.length = last - first + 1;
    r.kind = ByteRange::kPart;
    return r;
  }
  r.length = size - r.start;
  r.kind = ByteRange::kPart;
  return r;
}

}  // namespace streamd
