#include "streamd/http.h"

#include <algorithm>
#include <cctype>

namespace streamd {

namespace {

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_vchar_or_space(char c) { return c == ' ' || c == '\t' || (c > 0x20 && c < 0x7f); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Header names that must not repeat: a second Host or Range is an attack or a bug.
bool must_be_unique(std::string_view name) {
  return name == "host" || name == "range" || name == "authorization" || name == "content-length";
}

}  // namespace

const std::string *Request::header(std::string_view name) const {
  for (auto &[k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::optional<std::string> Request::param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) != name) continue;
    std::string value(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
    std::replace(value.begin(), value.end(), '+', ' ');
    return percent_decode(value, false);
  }
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view s, bool no_slash) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    char c = char(hi * 16 + lo);
    if (c == '\0' || (no_slash && c == '/')) return std::nullopt;
    out += c;
    i += 2;
  }
  return out;
}

int parse_request(std::string_view buf, Request *req) {
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    // A bare LF anywhere in what has come so far is already fatal.
    size_t lf = buf.find('\n');
    if (lf != std::string_view::npos && (lf == 0 || buf[lf - 1] != '\r')) return -400;
    return buf.size() >= kMaxHead ? -431 : 0;
  }
  if (end + 4 > kMaxHead) return -431;
  std::string_view head = buf.substr(0, end + 2);  // every line ends with CRLF

  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return -400;
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) return -400;
  if (target.size() > kMaxTarget) return -414;
  if (target.empty() || target[0] != '/') return -400;
  for (char c : target) {
    if (c <= 0x20 || c >= 0x7f) return -400;
  }
  if (version == "HTTP/1.0") {
    req->keep_alive = false;
  } else if (version == "HTTP/1.1") {
    req->keep_alive = true;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(static_cast<unsigned char>(version[5]))) {
    return -505;
  } else {
    return -400;
  }

  req->headers.clear();
  for (size_t pos = eol + 2; pos < head.size();) {
    size_t next = head.find("\r\n", pos);
    std::string_view field = head.substr(pos, next - pos);
    pos = next + 2;
    if (field.find('\n') != std::string_view::npos || field.find('\r') != std::string_view::npos) return -400;
    size_t colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos) return -400;  // also catches obs-fold
    std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) return -400;
    std::string_view value = field.substr(colon + 1);
    if (!std::all_of(value.begin(), value.end(), is_vchar_or_space)) return -400;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (int(req->headers.size()) == kMaxHeaders) return -431;
    std::string key = lower(name);
    if (must_be_unique(key) && req->header(key)) return -400;
    req->headers.emplace_back(std::move(key), std::string(value));
  }

  if (version == "HTTP/1.1" && !req->header("host")) return -400;
  if (req->header("transfer-encoding")) return -413;
  if (const std::string *cl = req->header("content-length"); cl && *cl != "0") return -413;
  if (method != "GET" && method != "HEAD") return -405;

  if (const std::string *c = req->header("connection")) {
    std::string v = lower(*c);
    if (v.find("close") != std::string::npos) req->keep_alive = false;
    if (v.find("keep-alive") != std::string::npos && version == "HTTP/1.0") req->keep_alive = true;
  }
  size_t q = target.find('?');
  auto path = percent_decode(target.substr(0, q), true);
  if (!path) return -400;
  for (char c : *path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return -400;
  }
  req->method = std::string(method);
  req->path = std::move(*path);
  req->query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  return int(end + 4);
}

std::string_view reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string response_head(int status, std::string_view headers, int64_t content_length, bool keep_alive) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason(status)) + "\r\n";
  h += headers;
  if (content_length >= 0) h += "Content-Length: " + std::to_string(content_length) + "\r\n";
  h += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  h += "X-Content-Type-Options: nosniff\r\n\r\n";
  return h;
}

}  // namespace streamd
