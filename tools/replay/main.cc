// replay: plays a recorded route back into msgq and VisionIPC. See replay.h.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/log.h>
}

#include "common/prefix.h"
#include "common/stop_signal.h"
#include "tools/replay/console_ui.h"
#include "tools/replay/replay.h"

namespace {

std::atomic<bool> g_quit{false};

void on_signal(int) { g_quit = true; }

const char *kUsage = R"(usage: replay [options] ROUTE

Plays a recorded route back: every logged message is republished on its msgq
topic at its original timing, and the camera videos are decoded and served over
VisionIPC (server "camerad"), so consumers run as on a live pipeline.

ROUTE is a route name under the log root or a path <dir>/<route>, with an
optional segment range: ROUTE/a:b plays segments a <= n < b (ROUTE/a: to the
end, ROUTE/-2: the last two); <dir>/<route>--<n> plays one segment.

options:
  --start SECONDS     start at this route time (default 0)
  --speed X           playback speed 0.1 .. 10 (default 1); 0 = --fast
  --fast              as fast as consumers take it
  --allow a,b         publish only these services
  --block a,b         do not publish these services
  --no-vipc           do not decode or serve camera frames
  --qcam              serve the small qcamera.ts stream as the road camera
  --qlog              play qlog.zst instead of rlog.zst
  --loop              start over at the end
  --log-root DIR      where routes are (default $CONDUIT_LOG_ROOT or ./data/routes;
                      --data-dir is the same)
  --prefix NAME       CONDUIT_PREFIX to publish under (isolates from other pipelines)
  -h, --help          this text

keys (when stdin is a terminal):
  space pause/resume   left/right or b/f seek -/+10 s   down/up or B/F -/+60 s
  + / - speed up/down  q quit
)";

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double number(const std::string &opt, const std::string &value) {
  char *end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end) throw std::invalid_argument(opt + " expects a number, got '" + value + "'");
  return v;
}

}  // namespace

int main(int argc, char **argv) {
  replay::ReplayOptions opts;
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string &a = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kUsage;
        return 0;
      } else if (a == "--start") opts.start = number(a, value());
      else if (a == "--speed") opts.speed = number(a, value());
      else if (a == "--fast") opts.speed = 0;
      else if (a == "--allow") opts.allow = split(value());
      else if (a == "--block") opts.block = split(value());
      else if (a == "--no-vipc") opts.vipc = false;
      else if (a == "--qcam") opts.qcam = true;
      else if (a == "--qlog") opts.qlog = true;
      else if (a == "--loop") opts.loop = true;
      else if (a == "--log-root" || a == "--data-dir") opts.data_dir = value();
      else if (a == "--prefix") {
        std::string p = value();
        conduit::check_name(p, "--prefix");
        setenv("CONDUIT_PREFIX", p.c_str(), 1);
      } else if (!a.empty() && a[0] == '-') throw std::invalid_argument("unknown option " + a + " (see --help)");
      else if (opts.route.empty()) opts.route = a;
      else throw std::invalid_argument("more than one route given: '" + opts.route + "' and '" + a + "'");
    }
    if (opts.route.empty()) throw std::invalid_argument("no route given (see --help)");
  } catch (const std::exception &e) {
    std::cerr << "replay: " << e.what() << "\n";
    return 2;
  }

  conduit::on_stop_signal(on_signal);
  av_log_set_level(AV_LOG_FATAL);  // decode problems are reported by replay itself

  try {
    replay::ConsoleUi ui;
    opts.on_warning = [&ui](const std::string &m) { ui.warning(m); };
    replay::Replay r(opts);
    r.start();
    ui.run(r, g_quit);
    return 0;
  } catch (const std::exception &e) {
    std::cerr << "replay: " << e.what() << "\n";
    return 1;
  }
}
