#pragma once
// The HTTP/1.1 streamd speaks: a strict parser for request heads, and the
// heads of its responses. Strict: what RFC 9112 allows only leniently is
// refused (bare LF, obs-fold, whitespace before a colon, control bytes, an
// encoded '/' or NUL in the path, a request body), so no two parsers on the
// way can disagree about what was asked. Only GET and HEAD exist: nothing is
// written through HTTP.
// Threads: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamd {

constexpr size_t kMaxHead = 8192;     // request line + header fields
constexpr size_t kMaxTarget = 2048;   // request target
constexpr int kMaxHeaders = 64;

struct Request {
  std::string method;  // "GET" or "HEAD"
  std::string path;    // percent-decoded, starts with '/'
  std::string query;   // as sent, after '?'
  bool keep_alive = true;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case

  // The value of a header field (name in lower case); nullptr when absent.
  const std::string *header(std::string_view name) const;
  // A query parameter, percent-decoded; nullopt when absent or badly encoded.
  std::optional<std::string> param(std::string_view name) const;
};

// Parses the request head at the start of `buf`. Returns the bytes it took
// (> 0) and fills `req`; 0 when the head is not complete yet (the caller
// refuses with 431 once it holds kMaxHead bytes); or -status when the request
// is refused: 400 malformed, 405 method, 413 body, 414 target, 431 head, 505 version.
int parse_request(std::string_view buf, Request *req);

// "HTTP/1.1 <status> <reason>\r\n" and the given header lines ("Name: value\r\n" each),
// then Content-Length when content_length >= 0, Connection, and the blank line.
std::string response_head(int status, std::string_view headers, int64_t content_length, bool keep_alive);

std::string_view reason(int status);

// Decodes %XX escapes; nullopt on a bad escape, NUL or (with `no_slash`) an encoded '/'.
std::optional<std::string> percent_decode(std::string_view s, bool no_slash);

}  // namespace streamd
