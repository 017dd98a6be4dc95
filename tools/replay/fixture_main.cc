// replay_fixture: writes a small synthetic route (fixture_route.h) for tests and
// benchmarks. Prints the route name and its time span as one JSON line.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tools/replay/fixture_route.h"

int main(int argc, char **argv) {
  replay::FixtureOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << "usage: replay_fixture --dir DIR [--route NAME] [--segments N] [--frames N] [--fps N]\n"
                   "                      [--size WxH] [--gop N] [--crf N] [--sensor-hz N] [--no-video]\n";
      return 0;
    }
    if (a == "--no-video") {
      o.video = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "replay_fixture: " << a << " needs a value\n";
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--dir") o.dir = v;
    else if (a == "--route") o.route = v;
    else if (a == "--segments") o.segments = std::atoi(v.c_str());
    else if (a == "--frames") o.frames_per_segment = std::atoi(v.c_str());
    else if (a == "--fps") o.fps = std::atoi(v.c_str());
    else if (a == "--gop") o.gop = std::atoi(v.c_str());
    else if (a == "--sensor-hz") o.sensor_hz = std::atoi(v.c_str());
    else if (a == "--crf") o.crf = std::atoi(v.c_str());
    else if (a == "--size") {
      if (std::sscanf(v.c_str(), "%dx%d", &o.width, &o.height) != 2) {
        std::cerr << "replay_fixture: --size expects WxH, got " << v << "\n";
        return 2;
      }
    } else {
      std::cerr << "replay_fixture: unknown option " << a << "\n";
      return 2;
    }
  }
  if (o.dir.empty()) {
    std::cerr << "replay_fixture: --dir is required\n";
    return 2;
  }
  try {
    auto r = replay::write_fixture_route(o);
    std::printf("{\"route\": \"%s\", \"segments\": %zu, \"start_mono\": %llu, \"end_mono\": %llu}\n", r.name.c_str(),
                r.segment_dirs.size(), (unsigned long long)r.start_mono, (unsigned long long)r.end_mono);
  } catch (const std::exception &e) {
    std::cerr << "replay_fixture: " << e.what() << "\n";
    return 1;
  }
}
