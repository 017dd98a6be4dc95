// Measures the encoder path the way encoderd runs it: synthetic NV12 frames in
// a strided buffer (like a VisionIPC buffer) -> VideoEncoder. Prints one JSON
// object. CPU is the process's (getrusage: every codec thread) minus the time
// this thread spent rendering the synthetic frames, so it counts the encoder only.
//
//   encoder_bench [--codec C] [--out WxH] [--frames N] [--fps F (0 = unthrottled)]
//                 [--bitrate B] [--preset P] [--params K=V:...]
//   encoder_bench --pacing [--fps F] [--frames N] [--streams S]
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "camerad/pacer.h"
#include "camerad/synthetic_scene.h"
#include "common/clock.h"
#include "encoderd/video_encoder.h"

namespace {

double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double process_cpu_s() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

struct Buffer {
  std::vector<uint8_t> mem;
  camerad::Nv12Frame frame;
  Buffer(int w, int h) {
    int stride = (w + 63) & ~63;
    mem.resize(size_t(stride) * h * 3 / 2);
    frame = {mem.data(), mem.data() + size_t(stride) * h, w, h, stride};
  }
};

int run_pacing(int fps, int frames, int streams) {
  std::vector<Buffer> bufs;
  for (int s = 0; s < streams; s++) bufs.emplace_back(1928, 1208);
  camerad::Pacer pacer(fps);
  std::vector<double> late_us;
  camerad::Tick tick;
  for (int i = 0; i < frames && pacer.wait(tick); i++) {
    late_us.push_back((tick.woke - tick.deadline) / 1e3);
    for (int s = 0; s < streams; s++) camerad::render_synthetic(camerad::CameraStream(s), uint32_t(tick.index), bufs[s].frame);
  }
  std::sort(late_us.begin(), late_us.end());
  auto pct = [&](double p) { return late_us[std::min(late_us.size() - 1, size_t(p * late_us.size()))]; };
  printf("{\"frames\": %zu, \"skipped\": %llu, \"jitter_p50_us\": %.2f, \"jitter_p99_us\": %.2f, \"jitter_max_us\": %.2f}\n",
         late_us.size(), (unsigned long long)pacer.skipped(), pct(0.5), pct(0.99), late_us.back());
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  encoderd::EncoderConfig cfg;
  cfg.codec = "libx265";
  int frames = 100, fps = 0, streams = 2;
  bool pacing = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        fprintf(stderr, "encoder_bench: %s needs a value\n", a.c_str());
        exit(2);
      }
      return argv[++i];
    };
    if (a == "--codec") cfg.codec = val();
    else if (a == "--out") sscanf(val().c_str(), "%dx%d", &cfg.width, &cfg.height);
    else if (a == "--frames") frames = atoi(val().c_str());
    else if (a == "--fps") fps = atoi(val().c_str());
    else if (a == "--bitrate") cfg.bitrate = atoll(val().c_str());
    else if (a == "--preset") cfg.preset = val();
    else if (a == "--params") cfg.codec_params = val();
    else if (a == "--streams") streams = atoi(val().c_str());
    else if (a == "--pacing") pacing = true;
    else {
      fprintf(stderr, "encoder_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (pacing) return run_pacing(fps ? fps : 20, frames, streams);

  Buffer buf(1928, 1208);
  encoderd::VideoEncoder enc(cfg, 1928, 1208);
  camerad::Pacer pacer(fps ? fps : 1000);
  size_t bytes = 0, packets = 0, releases = 0;
  double render_cpu = 0;
  auto sink = [&](const encoderd::EncodedPacket &p) { bytes += p.size, packets++; };
  double cpu0 = process_cpu_s();
  uint64_t t0 = conduit::mono_ns();
  camerad::Tick tick;
  for (int i = 0; i < frames; i++) {
    if (fps) pacer.wait(tick);
    double r0 = thread_cpu_s();
    camerad::render_synthetic(camerad::CameraStream::Road, uint32_t(i), buf.frame);
    render_cpu += thread_cpu_s() - r0;
    enc.encode(buf.frame, {uint32_t(i), 0, 0}, i == 0, [&] { releases++; }, sink);
  }
  enc.flush(sink);
  double wall = (conduit::mono_ns() - t0) * 1e-9;
  double cpu = process_cpu_s() - cpu0 - render_cpu;
  double frame_bytes = 1928.0 * 1208 * 1.5;
  printf("{\"codec\": \"%s\", \"pix_fmt\": \"%s\", \"frames\": %d, \"packets\": %zu, \"releases\": %zu, "
         "\"wall_s\": %.3f, \"fps\": %.2f, \"cpu_s\": %.3f, \"cores\": %.3f, \"cpu_s_per_frame\": %.5f, "
         "\"render_cpu_s\": %.3f, \"frame_copies\": %.4f, \"mbps\": %.3f}\n",
         enc.codec_name().c_str(), enc.input_pixel_format(), frames, packets, releases, wall, frames / wall, cpu,
         cpu / wall, cpu / frames, render_cpu, enc.copied_bytes() / frame_bytes / frames,
         bytes * 8.0 / (frames / double(fps ? fps : 20)) / 1e6);
  return 0;
}
