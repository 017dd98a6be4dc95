// Measures the encoder path the way encoderd runs it: camerad's synthetic
// frames rendered into a VisionIPC buffer (shared memory, the layout
// visionipc::buffer_layout gives, NV12 or I420) -> VideoEncoder. Prints one JSON
// object. CPU is the process's (getrusage: every codec thread) minus the time
// this thread spent rendering the synthetic frames, so it counts the encoder only.
// frame_copies: bytes of frame data copied before the codec (VideoEncoder's
// copied_bytes(), the sum of what its copy loops wrote, plus the --copy-input
// memcpy), per frame of width x height x 1.5 bytes.
//
//   encoder_bench [--codec C] [--out WxH] [--frames N] [--fps F (0 = unthrottled)]
//                 [--bitrate B] [--preset P] [--params K=V:...] [--pixel-format nv12|yuv420p]
//                 [--warmup N (unmeasured first frames, default 5)] [--copy-input] [--psnr]
//   encoder_bench --pacing [--relative] [--rt] [--fps F] [--frames N] [--streams S]
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "camerad/pacer.h"
#include "common/realtime.h"
#include "camerad/synthetic_scene.h"
#include "common/clock.h"
#include "common/testing/video.h"
#include "encoderd/video_encoder.h"
#include "visionipc/visionbuf.h"

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

// A frame buffer as camerad gets it from VisionIPC.
struct Buffer {
  VisionBuf buf;
  conduit::Yuv420Frame frame;
  Buffer(int w, int h, conduit::PixelFormat format = conduit::PixelFormat::kNv12) {
    buf.allocate(visionipc::buffer_layout(format, uint32_t(w), uint32_t(h)), "encoder_bench");
    frame = buf.frame();
  }
};

// camerad's loop without IPC: wait for the tick, render every stream. Reports
// how late each wake-up was, and the drift after `frames` frames. With
// `relative` the loop sleeps one period after its work instead (the naive way).
int run_pacing(int fps, int frames, int streams, bool relative) {
  std::deque<Buffer> bufs;  // VisionBufs do not move
  for (int s = 0; s < streams; s++) bufs.emplace_back(1928, 1208);
  for (int s = 0; s < streams; s++) camerad::render_synthetic(camerad::CameraStream(s), 0, bufs[s].frame);
  const uint64_t period = 1000000000ull / fps;
  camerad::Pacer pacer(fps);
  std::vector<double> late_us;
  camerad::Tick tick{};
  uint64_t start = pacer.deadline(0), last = start;
  for (int i = 0; i < frames; i++) {
    if (relative) {
      timespec ts{0, long(period)};
      clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
      last = conduit::mono_ns();
      late_us.push_back((last - (start + uint64_t(i + 1) * period)) / 1e3);
    } else {
      if (!pacer.wait(tick)) break;
      last = tick.woke;
      late_us.push_back((tick.woke - tick.deadline) / 1e3);
    }
    for (int s = 0; s < streams; s++) camerad::render_synthetic(camerad::CameraStream(s), uint32_t(i), bufs[s].frame);
  }
  double drift_ms = relative ? late_us.back() / 1e3 : (last - pacer.deadline(tick.index)) / 1e6;
  std::sort(late_us.begin(), late_us.end());
  auto pct = [&](double p) { return late_us[std::min(late_us.size() - 1, size_t(p * late_us.size()))]; };
  printf("{\"frames\": %zu, \"skipped\": %llu, \"jitter_p50_us\": %.2f, \"jitter_p99_us\": %.2f, "
         "\"jitter_max_us\": %.2f, \"drift_ms\": %.3f}\n",
         late_us.size(), (unsigned long long)pacer.skipped(), pct(0.5), pct(0.99), late_us.back(), drift_ms);
  return 0;
}

}  // namespace

int run_encode(const encoderd::EncoderConfig &cfg, conduit::PixelFormat format, int frames, int warmup, int fps,
               bool measure_psnr, bool copy_input);

int main(int argc, char **argv) {
  encoderd::EncoderConfig cfg;
  cfg.codec = "libx265";
  int frames = 100, fps = 0, streams = 2, warmup = 5;
  bool pacing = false, relative = false, measure_psnr = false, copy_input = false;
  conduit::PixelFormat format = conduit::PixelFormat::kNv12;
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
    else if (a == "--params") cfg.x265_params = cfg.x264_params = val();
    else if (a == "--streams") streams = atoi(val().c_str());
    else if (a == "--pixel-format") format = conduit::parse_pixel_format(val());
    else if (a == "--warmup") warmup = atoi(val().c_str());
    else if (a == "--pacing") pacing = true;
    else if (a == "--psnr") measure_psnr = true;
    else if (a == "--relative") relative = true;
    else if (a == "--rt") {
      std::string err = conduit::set_realtime_priority(10);
      if (!err.empty()) {
        fprintf(stderr, "encoder_bench: SCHED_FIFO 10: %s\n", err.c_str());
        return 1;
      }
    }
    else if (a == "--copy-input") copy_input = true;
    else {
      fprintf(stderr, "encoder_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    if (pacing) return run_pacing(fps ? fps : 20, frames, streams, relative);
    return run_encode(cfg, format, frames, warmup, fps, measure_psnr, copy_input);
  } catch (const std::exception &e) {
    fprintf(stderr, "encoder_bench: %s\n", e.what());
    return 1;
  }
}

// `copy_input`: the naive path, for comparison: the frame is first copied out
// of the shared buffer into a private one, which is then encoded.
int run_encode(const encoderd::EncoderConfig &cfg, conduit::PixelFormat format, int frames, int warmup, int fps,
               bool measure_psnr, bool copy_input) {
  Buffer buf(1928, 1208, format), copy(1928, 1208, format);
  uint64_t input_copies = 0;
  double copy_cpu = 0;
  encoderd::VideoEncoder enc(cfg, 1928, 1208, format);
  size_t bytes = 0, packets = 0, releases = 0;
  double render_cpu = 0;
  std::vector<std::vector<uint8_t>> kept;
  auto sink = [&](const encoderd::EncodedPacket &p) {
    bytes += p.size, packets++;
    if (measure_psnr) kept.emplace_back(p.data, p.data + p.size);
  };
  auto one = [&](int i) {
    double r0 = thread_cpu_s();
    camerad::render_synthetic(camerad::CameraStream::Road, uint32_t(i), buf.frame);
    render_cpu += thread_cpu_s() - r0;
    const conduit::Yuv420Frame *in = &buf.frame;
    if (copy_input) {
      double c0 = thread_cpu_s();
      memcpy(copy.buf.addr, buf.buf.addr, buf.buf.len);
      copy_cpu += thread_cpu_s() - c0;
      input_copies++;
      in = &copy.frame;
    }
    enc.encode(*in, {uint32_t(i), 0, 0}, i == 0, [&] { releases++; }, sink);
  };
  // Steady state only: the first frames pay for the codec's first allocations.
  for (int i = 0; i < warmup; i++) one(i);
  render_cpu = copy_cpu = 0;
  input_copies = releases = packets = bytes = 0;
  uint64_t copied0 = enc.copied_bytes();
  double cpu0 = process_cpu_s();
  uint64_t t0 = conduit::mono_ns();
  camerad::Pacer pacer(fps ? fps : 1000);
  camerad::Tick tick;
  for (int i = warmup; i < warmup + frames; i++) {
    if (fps) pacer.wait(tick);
    one(i);
  }
  enc.flush(sink);
  double wall = (conduit::mono_ns() - t0) * 1e-9;
  double cpu = process_cpu_s() - cpu0 - render_cpu;
  double frame_bytes = 1928.0 * 1208 * 1.5;
  double min_psnr = 0;
  if (measure_psnr) {
    // Decode everything and compare each picture with the frame its stamp names.
    bool hevc = enc.codec_name().find("265") != std::string::npos || enc.codec_name().find("hevc") != std::string::npos;
    testutil::Decoder dec(hevc ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264);
    std::vector<testutil::Picture> pics;
    for (auto &k : kept) for (auto &pic : dec.decode(k.data(), k.size())) pics.push_back(std::move(pic));
    for (auto &pic : dec.decode(nullptr, 0)) pics.push_back(std::move(pic));
    min_psnr = 99;
    for (auto &pic : pics) {
      Buffer ref(pic.width, pic.height);
      auto st = camerad::read_stamp(pic.y.data(), pic.width, pic.width, pic.height);
      if (!st) { min_psnr = 0; break; }
      camerad::render_synthetic(camerad::CameraStream::Road, st->frame_id, ref.frame);
      min_psnr = std::min(min_psnr, testutil::psnr_vs(pic, ref.frame));
    }
  }
  printf("{\"codec\": \"%s\", \"buffers\": \"%s\", \"pix_fmt\": \"%s\", \"frames\": %d, \"packets\": %zu, \"releases\": %zu, "
         "\"wall_s\": %.3f, \"fps\": %.2f, \"cpu_s\": %.3f, \"cores\": %.3f, \"cpu_s_per_frame\": %.5f, "
         "\"render_cpu_s\": %.3f, \"copy_ms_per_frame\": %.3f, \"frame_copies\": %.4f, \"mbps\": %.3f, \"min_psnr\": %.2f}\n",
         enc.codec_name().c_str(), conduit::pixel_format_name(format), enc.input_pixel_format(), frames, packets, releases, wall, frames / wall, cpu,
         cpu / wall, cpu / frames, render_cpu, copy_cpu * 1e3 / frames, (enc.copied_bytes() - copied0) / frame_bytes / frames + double(input_copies) / frames,
         bytes * 8.0 / (frames / double(fps ? fps : 20)) / 1e6, min_psnr);
  return 0;
}
