#pragma once
// streamd's HTTP server: one thread, one epoll loop, non-blocking sockets.
//
//   GET /                          the page (www/index.html); /static/NAME its files
//   GET /routes                    routes under the log root (JSON)
//   GET /routes/R                  a route's segments and files (JSON)
//   GET /routes/R/N/FILE           a segment file (rlog.zst, qcamera.ts, ...), Range supported
//   GET /routes/R/video.mp4        the route's qcamera as MP4 (remux.h), Range supported
//   GET /routes/R/signals?s=A,B    time series of log fields (signals.h)
//   GET /live/video                the live qcamera as fragmented MP4 (relay.h)
//   GET /live/events               status services as Server-Sent Events
//   GET /stats                     the server's counters (JSON)
//
// Files and cached MP4s go from the page cache to the socket with sendfile.
// Only GET and HEAD; nothing is written through HTTP.
// Safety: binds 127.0.0.1 unless told otherwise, and then only with a token
// (Authorization: Bearer T, or ?token=T), compared in constant time. Without a
// token the Host must name the loopback (no DNS rebinding). A request head must
// arrive whole within header_timeout; a connection idle for idle_timeout, or a
// response that makes no progress for send_timeout, is closed; past
// max_connections the oldest idle connection makes room.
// Threads: run() on one thread; the bus is read on a second one (bus_feed.h).
// Errors: the constructor throws std::runtime_error (bind, token rules).
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamd {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8088;  // 0: any free port (see port())
  std::string token;
  std::string log_root, cache_dir, www_dir;
  int header_timeout_ms = 10000;
  int idle_timeout_ms = 60000;
  int send_timeout_ms = 30000;
  int live_stall_ms = 5000;  // a live client that takes nothing this long is dropped
  int max_connections = 4000;
  bool use_sendfile = true;  // false: a pread + write loop (the benchmark's competitor)
  bool relay_copy = false;   // true: live fragments send() per client (the benchmark's competitor)
  bool live = true;          // read the bus (live video and events)
  std::string video_service = "qRoadEncodeData";
  std::vector<std::string> status_services = {"managerState", "loggerdState", "encoderdState", "cameradState",
                                              "modelV2", "deviceState"};
};

class Server {
 public:
  explicit Server(ServerOptions opts);
  ~Server();
  int port() const;
  // Serves until `stop` becomes non-zero.
  void run(const volatile sig_atomic_t &stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamd
