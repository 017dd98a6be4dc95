#pragma once
// The Range header of a GET on a file (RFC 9110 14.2), one range only:
// "bytes=a-b", "bytes=a-", "bytes=-n". Several ranges are refused as
// unsatisfiable rather than answered with multipart bodies nobody here needs.
#include <cstdint>
#include <string>

namespace streamd {

struct ByteRange {
  enum Kind { kWhole, kPart, kMalformed, kUnsatisfiable } kind = kWhole;
  uint64_t start = 0, length = 0;  // the bytes to send (kWhole: the whole file)
};

// `header` is the field value, nullptr when the request has none. `size` is
// the file's size now (a file still being written is served up to it).
ByteRange parse_range(const std::string *header, uint64_t size);

}  // namespace streamd
