// streamd: serves recorded routes and the live camera to a browser (server.h).
// SIGINT/SIGTERM: stop accepting, close every connection, exit 0.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>

#include "common/command_line.h"
#include "common/stop_signal.h"
#include "loggerd/route.h"
#include "streamd/server.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// The page ships in the source tree next to this program's build: <repo>/streamd/www.
std::string default_www() {
  char exe[PATH_MAX] = {};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::filesystem::path p = n > 0 ? std::filesystem::path(std::string(exe, size_t(n))) : std::filesystem::path();
  return (p.parent_path().parent_path().parent_path() / "streamd" / "www").string();
}

}  // namespace

int main(int argc, char **argv) {
  conduit::CommandLine cl("streamd", "Serves recorded routes (files with Range, the qcamera as MP4, signals) and the live\n"
                                     "qcamera stream and status to a browser page, over HTTP/1.1.");
  cl.option("bind", "ADDR", "127.0.0.1", "IPv4 address to listen on (not loopback: --token is required)");
  cl.option("port", "N", "8088", "TCP port (0: any free one, printed at start)");
  cl.option("token", "SECRET", "", "require 'Authorization: Bearer SECRET' or ?token=SECRET on every request");
  cl.option("log-root", "DIR", "", "routes to serve (default $CONDUIT_LOG_ROOT or ./data/routes)");
  cl.option("cache-dir", "DIR", "", "where remuxed MP4s are kept (default <log-root>/.streamd-cache)");
  cl.option("www", "DIR", "", "the page's files (default <repo>/streamd/www)");
  cl.option("header-timeout-ms", "MS", "10000", "a request head must arrive within this");
  cl.option("idle-timeout-ms", "MS", "60000", "close keep-alive connections idle this long");
  cl.option("live-stall-ms", "MS", "5000", "drop a live client that takes nothing this long");
  cl.option("max-connections", "N", "4000", "past this, the oldest idle connection is closed");
  cl.flag("no-sendfile", "send files through a read+write loop (benchmark comparison only)");
  cl.flag("relay-copy", "send live video to each client from user space (benchmark comparison only)");
  cl.flag("no-live", "do not read the bus (no live video or events)");
  streamd::ServerOptions o;
  try {
    if (!cl.parse(argc, argv)) {
      fputs(cl.help().c_str(), stdout);
      return 0;
    }
    o.bind = cl.str("bind");
    o.port = int(cl.integer("port", 0, 65535));
    o.token = cl.str("token");
    o.log_root = cl.str("log-root").empty() ? loggerd::log_root() : cl.str("log-root");
    o.cache_dir = cl.str("cache-dir").empty() ? o.log_root + "/.streamd-cache" : cl.str("cache-dir");
    o.www_dir = cl.str("www").empty() ? default_www() : cl.str("www");
    o.header_timeout_ms = int(cl.integer("header-timeout-ms", 10, 3600000));
    o.idle_timeout_ms = int(cl.integer("idle-timeout-ms", 10, 86400000));
    o.live_stall_ms = int(cl.integer("live-stall-ms", 10, 3600000));
    o.max_connections = int(cl.integer("max-connections", 1, 1000000));
    o.use_sendfile = !cl.on("no-sendfile");
    o.live = !cl.on("no-live");
    o.relay_copy = cl.on("relay-copy");
  } catch (const std::exception &e) {
    fprintf(stderr, "streamd: %s\n", e.what());
    return 2;
  }

  conduit::on_stop_signal(on_signal);
  signal(SIGPIPE, SIG_IGN);
  try {
    streamd::Server server(o);
    printf("streamd: serving %s on http://%s:%d/\n", o.log_root.c_str(), o.bind.c_str(), server.port());
    fflush(stdout);
    server.run(g_stop);
  } catch (const std::exception &e) {
    fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
