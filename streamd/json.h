#pragma once
// The few JSON bits streamd writes by hand: a quoted string and a number.
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace streamd {

inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

// Shortest form that reads back the same double; null for NaN and infinities.
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace streamd
