#include "cereal/pybind/json_escapes.h"

#include <stdexcept>

namespace cereal_py {

namespace {

unsigned hex4(std::string_view s, size_t pos) {
  if (pos + 4 > s.size()) throw std::invalid_argument("JSON: truncated \\u escape at offset " + std::to_string(pos));
  unsigned v = 0;
  for (size_t i = pos; i < pos + 4; ++i) {
    char c = s[i];
    unsigned d = (c >= '0' && c <= '9') ? unsigned(c - '0')
                 : (c >= 'a' && c <= 'f') ? unsigned(c - 'a' + 10)
                 : (c >= 'A' && c <= 'F') ? unsigned(c - 'A' + 10)
                                          : 16;
    if (d == 16) throw std::invalid_argument("JSON: bad hex digit in \\u escape at offset " + std::to_string(i));
    v = v * 16 + d;
  }
  return v;
}

void append_utf8(std::string &out, unsigned cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}

}  // namespace

std::string decode_unicode_escapes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    if (s[i + 1] != 'u') {  // another escape: keep both characters
      out += s[i];
      out += s[++i];
      continue;
    }
    size_t at = i;
    unsigned cp = hex4(s, i + 2);
    i += 5;
    if (cp >= 0xd800 && cp < 0xdc00) {
      if (i + 2 >= s.size() || s[i + 1] != '\\' || s[i + 2] != 'u') {
        throw std::invalid_argument("JSON: unpaired surrogate escape at offset " + std::to_string(at));
      }
      unsigned low = hex4(s, i + 3);
      if (low < 0xdc00 || low >= 0xe000) {
        throw std::invalid_argument("JSON: unpaired surrogate escape at offset " + std::to_string(at));
      }
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      i += 6;
    } else if (cp >= 0xdc00 && cp < 0xe000) {
      throw std::invalid_argument("JSON: unpaired surrogate escape at offset " + std::to_string(at));
    }
    // Quote and backslash stay escaped; the decoder takes every other character raw.
    if (cp == '"') out += "\\\"";
    else if (cp == '\\') out += "\\\\";
    else append_utf8(out, cp);
  }
  return out;
}

}  // namespace cereal_py
