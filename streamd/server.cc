#include "streamd/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "common/clock.h"
#include "streamd/bus_feed.h"
#include "streamd/byte_range.h"
#include "streamd/http.h"
#include "streamd/json.h"
#include "streamd/relay.h"
#include "streamd/remux.h"
#include "streamd/route_index.h"
#include "streamd/signals.h"
#include "streamd/worker.h"

namespace streamd {

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr size_t kSendBudget = 4 << 20;        // bytes per connection per wake-up: others get their turn
constexpr size_t kCopyChunk = 256 << 10;        // read+write competitor's buffer
constexpr size_t kMaxEventBacklog = 256 << 10;  // SSE bytes a slow page may have pending
constexpr int kLiveSocketBuffer = 128 << 10;
constexpr size_t kMaxSlowJobs = 64;             // remuxes and log reads queued for the worker

enum class Mode { kHttp, kLive, kEvents };

struct Conn {
  int fd;
  uint64_t id;               // unique for the server's lifetime (fds are reused)
  Mode mode = Mode::kHttp;
  std::string in, out;
  size_t out_off = 0;
  int file = -1;
  uint64_t file_off = 0, file_left = 0;
  bool close_after = false;
  bool peer_done = false;    // the client shut its side: no more requests
  bool go_live = false;      // switch to Mode::kLive once `out` (head + init) is sent
  bool waiting = false;      // the worker is making the reply
  int generation = 0;        // live: the init segment it got
  uint64_t deadline_ns = 0;
  uint32_t events = 0;       // registered with epoll

  bool sending() const { return out_off < out.size() || file_left > 0; }
};

bool constant_time_equal(const std::string &a, const std::string &b) {
  // Every byte of the longer string is looked at, whatever matches.
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() != b.size();
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool loopback_host(const std::string &host) {
  std::string h = host;
  if (!h.empty() && h[0] == '[') {
    size_t close = h.find(']');
    if (close == std::string::npos) return false;
    std::string rest = h.substr(close + 1);
    h = h.substr(1, close - 1);
    if (!rest.empty() && rest[0] != ':') return false;
  } else if (size_t colon = h.find(':'); colon != std::string::npos) {
    h.resize(colon);
  }
  return h == "localhost" || h == "127.0.0.1" || h == "::1";
}

bool is_loopback_address(const std::string &addr) {
  in_addr a;
  return inet_pton(AF_INET, addr.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

std::string content_type(const std::string &name) {
  auto ends = [&](const char *ext) {
    size_t n = strlen(ext);
    return name.size() >= n && name.compare(name.size() - n, n, ext) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".mp4")) return "video/mp4";
  if (ends(".ts")) return "video/mp2t";
  if (ends(".zst")) return "application/zstd";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

std::vector<std::string> split_path(const std::string &path) {
  std::vector<std::string> parts;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    parts.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

}  // namespace

struct Server::Impl {
  ServerOptions opts;
  int listen_fd = -1, epoll_fd = -1, timer_fd = -1;
  int port = 0;
  std::set<std::string> www_files;
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  std::unique_ptr<BusFeed> feed;
  Relay relay;
  Worker worker;
  uint64_t next_id = 0;
  std::vector<char> copy_buf;
  int live_generation = 0;
  struct {
    uint64_t accepted = 0, requests = 0, refused = 0, timeouts = 0, evicted = 0, events_dropped = 0;
    uint64_t status[6] = {};  // by class: 1xx..5xx
  } counters;

  explicit Impl(ServerOptions o)
      : opts(std::move(o)), relay(uint64_t(opts.live_stall_ms) * kMs, 256 * 1024, opts.relay_copy) {}

  ~Impl() {
    for (auto &[fd, c] : conns) {
      if (c->file >= 0) close(c->file);
      close(fd);
    }
    for (int fd : {listen_fd, epoll_fd, timer_fd}) {
      if (fd >= 0) close(fd);
    }
  }

  void start() {
    if (!is_loopback_address(opts.bind) && opts.token.empty()) {
      throw std::runtime_error("streamd: binding " + opts.bind +
                               " serves the routes beyond this machine; give --token SECRET to require it");
    }
    // 1000 idle connections and live clients (a socket and a pipe pair each) need more than the usual 1024 fds.
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (DIR *d = opendir(opts.www_dir.c_str())) {
      while (dirent *e = readdir(d)) {
        std::string name = e->d_name;
        struct stat st;
        if (name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
          www_files.insert(name);
        }
      }
      closedir(d);
    }
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(opts.port));
    if (inet_pton(AF_INET, opts.bind.c_str(), &addr.sin_addr) != 1) {
      throw std::runtime_error("streamd: --bind " + opts.bind + " is not an IPv4 address");
    }
    if (bind(listen_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(listen_fd, 1024) != 0) {
      throw std::runtime_error("streamd: cannot listen on " + opts.bind + ":" + std::to_string(opts.port) + ": " +
                               strerror(errno));
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd, reinterpret_cast<sockaddr *>(&addr), &len);
    port = ntohs(addr.sin_port);

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec tick{{0, 250 * long(kMs)}, {0, 250 * long(kMs)}};
    timerfd_settime(timer_fd, 0, &tick, nullptr);
    watch(listen_fd, EPOLLIN);
    watch(timer_fd, EPOLLIN);
    watch(worker.event_fd(), EPOLLIN);
    if (opts.live) {
      feed = std::make_unique<BusFeed>(opts.video_service, opts.status_services);
      watch(feed->event_fd(), EPOLLIN);
    }
  }

  void watch(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }

  void set_events(Conn &c, uint32_t events) {
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = c.fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = events;
  }

  // HTTP connections wait either for a request or for the socket to take the response.
  void update_events(Conn &c) {
    if (c.mode == Mode::kLive) return;
    if (c.waiting) return set_events(c, c.peer_done ? 0 : EPOLLRDHUP);  // hang-ups are reported anyway
    uint32_t ev = c.sending() ? EPOLLOUT : EPOLLIN;
    if (!c.peer_done) ev |= EPOLLRDHUP;
    set_events(c, ev);
  }

  void close_conn(int fd) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    if (it->second->mode == Mode::kLive) relay.remove(fd);
    if (it->second->file >= 0) close(it->second->file);
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(it);
  }

  void run(const volatile sig_atomic_t &stop) {
    epoll_event events[256];
    while (!stop) {
      int n = epoll_wait(epoll_fd, events, 256, 500);
      for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all();
        } else if (fd == timer_fd) {
          uint64_t ticks;
          (void)!read(timer_fd, &ticks, sizeof ticks);
          sweep();
        } else if (feed && fd == feed->event_fd()) {
          on_feed();
        } else if (fd == worker.event_fd()) {
          for (auto &done : worker.take()) done();
        } else if (conns.count(fd)) {
          on_event(*conns[fd], events[i].events);
        }
      }
    }
  }

  void accept_all() {
    while (true) {
      int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) evict_idle();
        return;
      }
      if (int(conns.size()) >= opts.max_connections && !evict_idle()) {
        counters.refused++;
        close(fd);
        continue;
      }
      counters.accepted++;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->id = ++next_id;
      c->deadline_ns = conduit::mono_ns() + uint64_t(opts.header_timeout_ms) * kMs;
      c->events = EPOLLIN | EPOLLRDHUP;
      watch(fd, c->events);
      conns[fd] = std::move(c);
    }
  }

  // Closes the HTTP connection that has waited longest without a request in progress.
  bool evict_idle() {
    Conn *oldest = nullptr;
    for (auto &[fd, c] : conns) {
      if (c->mode == Mode::kHttp && !c->sending() && !c->waiting && (!oldest || c->deadline_ns < oldest->deadline_ns)) oldest = c.get();
    }
    if (!oldest) return false;
    counters.evicted++;
    close_conn(oldest->fd);
    return true;
  }

  void sweep() {
    uint64_t now = conduit::mono_ns();
    std::vector<int> expired;
    for (auto &[fd, c] : conns) {
      if (c->mode == Mode::kLive || c->waiting) continue;
      if (c->mode == Mode::kEvents && !c->sending()) continue;
      if (now > c->deadline_ns) expired.push_back(fd);
    }
    for (int fd : expired) {
      Conn &c = *conns[fd];
      counters.timeouts++;
      if (c.mode == Mode::kHttp && !c.sending() && !c.in.empty()) {
        std::string r = error_response(408, "the request head did not arrive in time", false);
        (void)!send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      close_conn(fd);
    }
    for (int fd : relay.expire(now)) close_conn(fd);
  }

  void on_event(Conn &c, uint32_t ev) {
    if (c.mode == Mode::kLive) {
      char sink[4096];
      ssize_t r;
      while ((r = recv(c.fd, sink, sizeof sink, 0)) > 0) {
      }
      if (r == 0 || (r < 0 && errno != EAGAIN) || (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))) {
        close_conn(c.fd);
      } else if ((ev & EPOLLOUT) && !relay.flush(c.fd, conduit::mono_ns())) {
        close_conn(c.fd);
      }
      return;
    }
    if (ev & (EPOLLERR | EPOLLHUP)) {
      close_conn(c.fd);
      return;
    }
    int fd = c.fd;
    if ((ev & (EPOLLIN | EPOLLRDHUP)) && !on_readable(c)) {
      close_conn(fd);
      return;
    }
    if (conns.count(fd) && (ev & EPOLLOUT)) {
      on_writable(c);
      if (!conns.count(fd) || c.sending()) return;
      process(c);
      if (conns.count(fd)) after_process(c);
    }
  }

  void after_process(Conn &c) {
    if (c.mode == Mode::kHttp && c.peer_done && !c.sending() && !c.waiting) return close_conn(c.fd);
    update_events(c);
  }

  // False: close the connection.
  bool on_readable(Conn &c) {
    char buf[16384];
    while (!c.peer_done && c.in.size() < kMaxHead + sizeof buf) {
      ssize_t r = recv(c.fd, buf, sizeof buf, 0);
      if (r > 0) {
        if (c.in.empty() && c.mode == Mode::kHttp && !c.sending()) {
          // The first byte of a request starts its clock; more bytes do not extend it (slowloris).
          c.deadline_ns = conduit::mono_ns() + uint64_t(opts.header_timeout_ms) * kMs;
        }
        if (c.mode == Mode::kEvents) continue;  // a page has nothing to say on this stream
        c.in.append(buf, size_t(r));
      } else if (r == 0) {
        c.peer_done = true;
      } else if (errno == EAGAIN) {
        break;
      } else {
        return false;
      }
    }
    if (c.mode == Mode::kEvents) return !c.peer_done;
    int fd = c.fd;  // process() may close c (and free it)
    process(c);
    if (conns.count(fd)) after_process(c);
    return true;
  }

  // Parses and answers requests while nothing is being sent (pipelining in order).
  void process(Conn &c) {
    const int fd = c.fd;  // on_writable() may close c (and free it)
    while (c.mode == Mode::kHttp && !c.sending() && !c.waiting && !c.in.empty()) {
      Request req;
      int n = parse_request(c.in, &req);
      if (n == 0) return;
      counters.requests++;
      if (n < 0) {
        respond(c, error_response(-n, "", false), false);
        c.in.clear();
      } else {
        c.in.erase(0, size_t(n));
        handle(c, req);
      }
      on_writable(c);
      if (!conns.count(fd)) return;
    }
  }

  void on_writable(Conn &c) {
    size_t budget = kSendBudget;
    while (c.out_off < c.out.size()) {
      int more = c.file_left ? MSG_MORE : 0;
      ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | more);
      if (w < 0) {
        if (errno == EAGAIN) return update_events(c);
        return close_conn(c.fd);
      }
      c.out_off += size_t(w);
      c.deadline_ns = conduit::mono_ns() + uint64_t(opts.send_timeout_ms) * kMs;
    }
    while (c.file_left > 0) {
      if (budget == 0) return update_events(c);  // level-triggered: we come back
      size_t chunk = std::min<uint64_t>(c.file_left, budget);
      ssize_t w = opts.use_sendfile ? sendfile_chunk(c, chunk) : copy_chunk(c, chunk);
      if (w < 0) {
        if (errno == EAGAIN) return update_events(c);
        return close_conn(c.fd);
      }
      if (w == 0) return close_conn(c.fd);  // the file shrank under us: the length sent cannot be met
      c.file_left -= uint64_t(w);
      budget -= std::min(budget, size_t(w));
      c.deadline_ns = conduit::mono_ns() + uint64_t(opts.send_timeout_ms) * kMs;
    }
    finished(c);
  }

  ssize_t sendfile_chunk(Conn &c, size_t n) {
    off_t off = off_t(c.file_off);
    ssize_t w = sendfile(c.fd, c.file, &off, n);
    if (w > 0) c.file_off = uint64_t(off);
    return w;
  }

  // The competitor: through a user-space buffer, two copies per byte.
  ssize_t copy_chunk(Conn &c, size_t n) {
    if (copy_buf.empty()) copy_buf.resize(kCopyChunk);
    ssize_t r = pread(c.file, copy_buf.data(), std::min(n, copy_buf.size()), off_t(c.file_off));
    if (r <= 0) return r;
    ssize_t w = send(c.fd, copy_buf.data(), size_t(r), MSG_NOSIGNAL);
    if (w > 0) c.file_off += uint64_t(w);
    return w;
  }

  // The response is out: next request, live stream, or close.
  void finished(Conn &c) {
    c.out.clear();
    c.out_off = 0;
    if (c.file >= 0) close(c.file);
    c.file = -1;
    if (c.close_after) return close_conn(c.fd);
    if (c.go_live) {
      c.go_live = false;
      // A small socket buffer bounds how far behind a client can fall before the relay notices.
      int sndbuf = kLiveSocketBuffer;
      setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      if (!relay.add(c.fd)) return close_conn(c.fd);
      c.mode = Mode::kLive;
      set_events(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
      return;
    }
    if (c.mode == Mode::kEvents) return set_events(c, EPOLLIN | EPOLLRDHUP);
    c.deadline_ns = conduit::mono_ns() + uint64_t(opts.idle_timeout_ms) * kMs;
    if (c.peer_done && c.in.empty()) return close_conn(c.fd);
    update_events(c);
  }

  void count(int status) { counters.status[std::min(status / 100, 5)]++; }

  std::string error_response(int status, const std::string &detail, bool keep_alive) {
    count(status);
    std::string body = std::to_string(status) + " " + std::string(reason(status)) + (detail.empty() ? "" : ": " + detail) + "\n";
    std::string extra = "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n";
    if (status == 401) extra += "WWW-Authenticate: Bearer\r\n";
    return response_head(status, extra, int64_t(body.size()), keep_alive) + body;
  }

  void respond(Conn &c, std::string data, bool keep_alive) {
    c.out = std::move(data);
    c.out_off = 0;
    c.close_after = !keep_alive;
  }

  void reply_error(Conn &c, const Request &req, int status, const std::string &detail) {
    // After a refused request the rest of what the client sent cannot be trusted.
    bool keep = req.keep_alive && status != 400;
    respond(c, error_response(status, detail, keep), keep);
    if (req.method == "HEAD") c.out.erase(c.out.find("\r\n\r\n") + 4);
  }

  void reply_json(Conn &c, const Request &req, const std::string &json) {
    count(200);
    std::string h = response_head(200, "Content-Type: application/json\r\nCache-Control: no-store\r\n",
                                  int64_t(json.size()), req.keep_alive);
    respond(c, req.method == "HEAD" ? h : h + json, req.keep_alive);
  }

  // A file from its first byte or a Range of it, the body by sendfile.
  void reply_file(Conn &c, const Request &req, int fd, const std::string &type) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return reply_error(c, req, 404, "not a file");
    }
    uint64_t size = uint64_t(st.st_size);
    ByteRange r = parse_range(req.header("range"), size);
    if (r.kind == ByteRange::kMalformed) {
      close(fd);
      return reply_error(c, req, 400, "malformed Range (expected bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX)");
    }
    if (r.kind == ByteRange::kUnsatisfiable) {
      close(fd);
      count(416);
      std::string body = "416 Range Not Satisfiable: the file has " + std::to_string(size) + " bytes\n";
      std::string h = response_head(416, "Content-Type: text/plain\r\nContent-Range: bytes */" + std::to_string(size) + "\r\n",
                                    int64_t(body.size()), req.keep_alive);
      return respond(c, req.method == "HEAD" ? h : h + body, req.keep_alive);
    }
    int status = r.kind == ByteRange::kPart ? 206 : 200;
    count(status);
    std::string extra = "Content-Type: " + type + "\r\nAccept-Ranges: bytes\r\nCache-Control: no-cache\r\n";
    if (status == 206) {
      extra += "Content-Range: bytes " + std::to_string(r.start) + "-" + std::to_string(r.start + r.length - 1) + "/" +
               std::to_string(size) + "\r\n";
    }
    respond(c, response_head(status, extra, int64_t(r.length), req.keep_alive), req.keep_alive);
    if (req.method == "HEAD" || r.length == 0) {
      close(fd);
      return;
    }
    c.file = fd;
    c.file_off = r.start;
    c.file_left = r.length;
  }

  // What the loop does with a slow job's result.
  using Reply = std::function<void(Conn &, const Request &)>;

  // Runs `work` on the worker thread, and its reply on the loop thread when it
  // is done, if the connection is still there. `work` may read opts, nothing else.
  void defer(Conn &c, const Request &req, std::function<Reply()> work) {
    if (worker.pending() >= kMaxSlowJobs) return reply_error(c, req, 503, "too many slow requests queued; retry");
    c.waiting = true;
    worker.post([this, fd = c.fd, id = c.id, req, work = std::move(work)]() -> Worker::Done {
      Reply reply;
      try {
        reply = work();
      } catch (const std::invalid_argument &e) {
        reply = [this, m = std::string(e.what())](Conn &c, const Request &r) { reply_error(c, r, 404, m); };
      } catch (const std::exception &e) {
        reply = [this, m = std::string(e.what())](Conn &c, const Request &r) { reply_error(c, r, 500, m); };
      }
      return [this, fd, id, req, reply] {
        auto it = conns.find(fd);
        if (it == conns.end() || it->second->id != id) return;  // the client left meanwhile
        Conn &c = *it->second;
        c.waiting = false;
        reply(c, req);
        on_writable(c);
        if (!conns.count(fd)) return;
        process(c);
        if (conns.count(fd)) after_process(c);
      };
    });
    update_events(c);
  }

  bool authorized(const Request &req) {
    if (opts.token.empty()) return true;
    if (const std::string *a = req.header("authorization"); a && a->rfind("Bearer ", 0) == 0) {
      return constant_time_equal(a->substr(7), opts.token);
    }
    auto t = req.param("token");
    return t && constant_time_equal(*t, opts.token);
  }

  void handle(Conn &c, const Request &req) {
    std::vector<std::string> p = split_path(req.path);
    // The page itself holds no data: it loads without the token and sends it with every request it makes.
    bool page = req.path == "/" || req.path == "/index.html" || (p[0] == "static" && p.size() == 2);
    if (!page && !authorized(req)) return reply_error(c, req, 401, "a token is required (Authorization: Bearer T or ?token=T)");
    const std::string *host = req.header("host");
    if (opts.token.empty() && !loopback_host(host ? *host : "")) {
      return reply_error(c, req, 421, "this server answers to localhost only");
    }
    for (const std::string &part : p) {
      if (part == "." || part == "..") return reply_error(c, req, 400, "path has . or .. components");
    }
    try {
      if (page) return static_file(c, req, p[0] == "static" ? p[1] : "index.html");
      if (p[0] == "routes") return routes(c, req, p);
      if (req.path == "/stats") return reply_json(c, req, stats_json());
      if (req.path == "/live/video") return live_video(c, req);
      if (req.path == "/live/events") return live_events(c, req);
      reply_error(c, req, 404, "nothing at " + req.path);
    } catch (const std::invalid_argument &e) {
      reply_error(c, req, 404, e.what());
    } catch (const std::exception &e) {
      reply_error(c, req, 500, e.what());
    }
  }

  void static_file(Conn &c, const Request &req, const std::string &name) {
    if (!www_files.count(name)) return reply_error(c, req, 404, "no such page file");
    int fd = open((opts.www_dir + "/" + name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return reply_error(c, req, 404, "no such page file");
    reply_file(c, req, fd, content_type(name));
  }

  void routes(Conn &c, const Request &req, const std::vector<std::string> &p) {
    if (p.size() == 1 || (p.size() == 2 && p[1].empty())) return reply_json(c, req, routes_json(opts.log_root));
    const std::string &route = p[1];
    if (!safe_name(route)) return reply_error(c, req, 404, "not a route name");
    if (p.size() == 2) {
      return defer(c, req, [this, route]() -> Reply {
        auto j = route_json(opts.log_root, route);
        return [this, j, route](Conn &c, const Request &r) {
          j ? reply_json(c, r, *j) : reply_error(c, r, 404, "no route " + route);
        };
      });
    }
    if (p.size() == 3 && p[2] == "video.mp4") {
      return defer(c, req, [this, route]() -> Reply {
        std::string mp4 = route_mp4(opts.log_root, route, opts.cache_dir);
        return [this, mp4](Conn &c, const Request &r) {
          int fd = open(mp4.c_str(), O_RDONLY | O_CLOEXEC);
          fd < 0 ? reply_error(c, r, 500, "the cached video vanished") : reply_file(c, r, fd, "video/mp4");
        };
      });
    }
    if (p.size() == 3 && p[2] == "signals") {
      std::vector<std::string> names;
      std::string list = req.param("s").value_or("");
      for (size_t pos = 0; pos < list.size();) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        if (comma > pos) names.push_back(list.substr(pos, comma - pos));
        pos = comma + 1;
      }
      if (names.empty() || names.size() > 16) return reply_error(c, req, 400, "give 1 to 16 signals: ?s=modelV2.sceneChange,...");
      return defer(c, req, [this, route, names]() -> Reply {
        auto segs = route_segments(opts.log_root, route);
        if (segs.empty()) throw std::invalid_argument("no route " + route);
        uint64_t t0 = 0;
        for (uint64_t s : qcamera_starts(segs)) {
          if (s) {
            t0 = s;
            break;
          }
        }
        try {
          std::string j = signals_json(opts.log_root + "/" + route, names, t0);
          return [this, j](Conn &c, const Request &r) { reply_json(c, r, j); };
        } catch (const std::invalid_argument &e) {
          return [this, m = std::string(e.what())](Conn &c, const Request &r) { reply_error(c, r, 400, m); };
        }
      });
    }
    if (p.size() == 4) {
      const std::string &num = p[2];
      if (num.empty() || num.size() > 9 || !std::all_of(num.begin(), num.end(), ::isdigit)) {
        return reply_error(c, req, 404, "not a segment number");
      }
      int fd = open_segment_file(opts.log_root, route, std::stoi(num), p[3]);
      if (fd < 0) return reply_error(c, req, 404, "no file " + p[3] + " in segment " + num + " of " + route);
      return reply_file(c, req, fd, content_type(p[3]));
    }
    reply_error(c, req, 404, "nothing at " + req.path);
  }

  void live_video(Conn &c, const Request &req) {
    LiveInit init = feed ? feed->init() : LiveInit{};
    if (init.init.empty()) return reply_error(c, req, 503, "no live video yet (is encoderd running?)");
    count(200);
    std::string h = response_head(200, "Content-Type: video/mp4\r\nCache-Control: no-store\r\nX-Stream-Start-Ns: " +
                                           std::to_string(init.start_ns) + "\r\n", -1, false);
    if (req.method == "HEAD") return respond(c, h, false);
    respond(c, h + init.init, false);
    c.close_after = false;
    c.go_live = true;
    c.generation = init.generation;
  }

  void live_events(Conn &c, const Request &req) {
    if (!feed) return reply_error(c, req, 503, "the server runs without the bus (--no-live)");
    count(200);
    std::string h = response_head(200, "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n", -1, false);
    if (req.method == "HEAD") return respond(c, h, false);
    for (const std::string &json : feed->latest_status()) h += "data: " + json + "\n\n";
    respond(c, h, false);
    c.close_after = false;
    c.mode = Mode::kEvents;
  }

  void on_feed() {
    uint64_t now = conduit::mono_ns();
    for (LiveItem &item : feed->take()) {
      if (item.kind == LiveItem::kFragment) {
        if (item.generation != live_generation) {
          // New codec parameters: clients of the old init segment reconnect.
          live_generation = item.generation;
          std::vector<int> old;
          for (auto &[fd, c] : conns) {
            if ((c->mode == Mode::kLive || c->go_live) && c->generation != item.generation) old.push_back(fd);
          }
          for (int fd : old) close_conn(fd);
        }
        for (int fd : relay.publish(item.data, item.keyframe, now)) close_conn(fd);
      } else {
        std::string msg = "data: " + item.data + "\n\n";
        std::vector<int> ready;
        for (auto &[fd, c] : conns) {
          if (c->mode != Mode::kEvents) continue;
          if (c->out.size() - c->out_off + msg.size() > kMaxEventBacklog) {
            counters.events_dropped++;
            continue;
          }
          if (!c->sending()) c->deadline_ns = now + uint64_t(opts.send_timeout_ms) * kMs;
          c->out += msg;
          ready.push_back(fd);
        }
        for (int fd : ready) {
          if (conns.count(fd)) on_writable(*conns[fd]);
        }
      }
    }
  }

  std::string stats_json() {
    const RelayStats &r = relay.stats();
    size_t live = 0, events = 0;
    for (auto &[fd, c] : conns) {
      live += c->mode == Mode::kLive;
      events += c->mode == Mode::kEvents;
    }
    std::string status;
    for (int k = 1; k <= 5; k++) {
      status += std::string(k > 1 ? "," : "") + "\"" + std::to_string(k) + "xx\":" + std::to_string(counters.status[k]);
    }
    return "{\"connections\":" + std::to_string(conns.size()) + ",\"accepted\":" + std::to_string(counters.accepted) +
           ",\"requests\":" + std::to_string(counters.requests) + ",\"refused\":" + std::to_string(counters.refused) +
           ",\"evicted\":" + std::to_string(counters.evicted) + ",\"timeouts\":" + std::to_string(counters.timeouts) +
           ",\"status\":{" + status + "},\"live\":{\"clients\":" + std::to_string(live) +
           ",\"event_clients\":" + std::to_string(events) + ",\"fragments\":" + std::to_string(r.fragments) +
           ",\"fragment_bytes\":" + std::to_string(r.fragment_bytes) + ",\"teed_bytes\":" + std::to_string(r.teed_bytes) +
           ",\"spliced_bytes\":" + std::to_string(r.spliced_bytes) + ",\"skipped\":" + std::to_string(r.skipped) +
           ",\"dropped_clients\":" + std::to_string(r.dropped_clients) + ",\"gone_clients\":" + std::to_string(r.gone_clients) +
           ",\"events_dropped\":" + std::to_string(counters.events_dropped) +
           ",\"bad_packets\":" + std::to_string(feed ? feed->bad_packets() : 0) + "}}";
  }
};

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) { impl_->start(); }
Server::~Server() = default;
int Server::port() const { return impl_->port; }
void Server::run(const volatile sig_atomic_t &stop) { impl_->run(stop); }

}  // namespace streamd
