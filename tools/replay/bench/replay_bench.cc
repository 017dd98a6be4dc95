// replay_bench: the measurements behind tools/bench/replay.py, one JSON line each.
//   replay_bench decode FILE          decode + NV12 convert every frame, nothing else
//                                     (the libavcodec floor replay is compared with)
//   replay_bench seek ROUTE N SEED    N seeks to random times of a playing replay;
//                                     latency from seek to the target frame arriving
//                                     at a VisionIPC client, and whether it was the right one
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <capnp/serialize.h>

extern "C" {
#include <libavutil/log.h>
}

#include "common/clock.h"
#include "tools/replay/frame_reader.h"
#include "tools/replay/log_file.h"
#include "tools/replay/replay.h"
#include "visionipc/visionipc_client.h"

namespace {

int decode(const std::string &path) {
  replay::FrameReader fr(path);
  conduit::Yuv420Layout l = conduit::yuv420_layout(conduit::PixelFormat::kNv12, fr.width(), fr.height());
  std::vector<uint8_t> img(l.size());
  uint64_t t0 = conduit::mono_ns();
  for (size_t i = 0; i < fr.size(); ++i) fr.get(i, conduit::Yuv420Frame::at(img.data(), l));
  double s = (conduit::mono_ns() - t0) * 1e-9;
  printf("{\"frames\": %zu, \"seconds\": %.6f, \"width\": %d, \"height\": %d}\n", fr.size(), s, fr.width(), fr.height());
  return 0;
}

// (route seconds, frame id) of every road frame, from the logs.
std::vector<std::pair<double, uint32_t>> frame_times(const replay::Route &route) {
  std::vector<std::pair<double, uint32_t>> out;
  uint64_t start = 0;
  for (const auto &s : route.segments()) {
    auto log = replay::LogFile::read(s.log);
    if (!start) start = log.events().front().mono_time;
    for (const auto &e : log.events()) {
      if (e.which != cereal::Event::ROAD_ENCODE_IDX) continue;
      capnp::FlatArrayMessageReader r(e.bytes());
      out.emplace_back((e.mono_time - start) * 1e-9, r.getRoot<cereal::Event>().getRoadEncodeIdx().getFrameId());
    }
  }
  return out;
}

int seek(const std::string &spec, int n, unsigned seed) {
  replay::ReplayOptions o;
  o.route = spec;
  o.on_warning = [](const std::string &m) { fprintf(stderr, "replay_bench: %s\n", m.c_str()); };
  replay::Replay r(o);
  auto frames = frame_times(r.route());
  VisionIpcClient client("camerad", VISION_STREAM_ROAD, false);
  if (!client.connect(false)) {
    fprintf(stderr, "replay_bench: cannot connect: %s\n", client.last_error().c_str());
    return 1;
  }
  r.start();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> pick(0, frames.back().first);
  for (int i = 0; i < n; ++i) {
    double t = pick(rng);
    uint32_t want = std::lower_bound(frames.begin(), frames.end(), std::make_pair(t, 0u))->second;
    // Paused and quiet: a frame decoded before the pause must not count as the seek's.
    r.pause(true);
    while (client.recv(nullptr, 300)) {
    }
    uint64_t t0 = conduit::mono_ns();
    r.seek_to(t);
    r.pause(false);
    VisionIpcBufExtra extra;
    VisionBuf *buf = client.recv(&extra, 5000);
    double ms = (conduit::mono_ns() - t0) * 1e-6;
    printf("{\"target_s\": %.3f, \"latency_ms\": %.3f, \"frame_id\": %d, \"expected\": %u}\n", t, ms,
           buf ? int(extra.frame_id) : -1, want);
    fflush(stdout);
  }
  r.stop();
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  av_log_set_level(AV_LOG_FATAL);
  std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "decode" && argc == 3) return decode(argv[2]);
    if (mode == "seek" && argc == 5) return seek(argv[2], std::stoi(argv[3]), unsigned(std::stoul(argv[4])));
  } catch (const std::exception &e) {
    fprintf(stderr, "replay_bench: %s\n", e.what());
    return 1;
  }
  fprintf(stderr, "usage: replay_bench decode FILE | replay_bench seek ROUTE N SEED\n");
  return 2;
}
