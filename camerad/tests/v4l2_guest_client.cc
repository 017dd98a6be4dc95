// A VisionIPC client of camerad's road stream for the V4L2 guest tests
// (selfdrive_tests/vm): it checks the frames of vivid's default test pattern
// (75% colour bars under a text line that changes every frame) and prints one
// result line for the host to parse. Modes:
//   check N          N frames: every bar's Y, U, V at two rows; frame ids never going back;
//                    start-of-frame -> here latency; cameradState's path
//   hold SECONDS     holds one frame that long; is it unchanged at the end?
//   hold_forever     holds one frame until killed (prints HELD idx=I)
//   seek IDX N       waits (up to N frames) for buffer IDX to come back with a good frame
//   disconnect DEV   presses vivid's "Disconnect" button: the device vanishes as if unplugged
// check also takes camerad's pid: then it reports camerad's CPU per frame.
#include <dirent.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cereal/messaging.h"
#include "common/clock.h"
#include "visionipc/visionipc_client.h"

namespace {

// The 75% colour bars as BT.601 limited-range Y'CbCr, white to black.
struct Yuv {
  int y, u, v;
};
std::vector<Yuv> colour_bars() {
  const double rgb[8][3] = {{1, 1, 1}, {1, 1, 0}, {0, 1, 1}, {0, 1, 0}, {1, 0, 1}, {1, 0, 0}, {0, 0, 1}, {0, 0, 0}};
  std::vector<Yuv> out;
  for (const auto &c : rgb) {
    double r = 0.75 * c[0], g = 0.75 * c[1], b = 0.75 * c[2];
    out.push_back({int(std::lround(16 + 219 * (0.299 * r + 0.587 * g + 0.114 * b))),
                   int(std::lround(128 + 224 * (-0.168736 * r - 0.331264 * g + 0.5 * b))),
                   int(std::lround(128 + 224 * (0.5 * r - 0.418688 * g - 0.081312 * b)))});
  }
  return out;
}

constexpr int kTolerance = 4;

// Empty when every bar matches at rows 1/2 and 3/4 down; else what was found.
std::string check_bars(const conduit::Yuv420Frame &f) {
  static const std::vector<Yuv> bars = colour_bars();
  for (int row : {f.height / 2, f.height * 3 / 4}) {
    for (int k = 0; k < 8; k++) {
      int x = (2 * k + 1) * f.width / 16;
      int y = f.y[size_t(row) * f.stride + x];
      size_t c = size_t(row / 2) * f.uv_stride + size_t(x / 2) * f.uv_step;
      int u = f.u[c], v = f.v[c];
      const Yuv &e = bars[k];
      if (std::abs(y - e.y) > kTolerance || std::abs(u - e.u) > kTolerance || std::abs(v - e.v) > kTolerance) {
        char buf[160];
        snprintf(buf, sizeof buf, "bar%d@row%d=(%d,%d,%d)_expected_(%d,%d,%d)", k, row, y, u, v, e.y, e.u, e.v);
        return buf;
      }
    }
  }
  return "";
}

uint64_t hash_rows(const conduit::Yuv420Frame &f, int rows) {
  uint64_t h = 1469598103934665603ull;
  for (int r = 0; r < rows; r++) {
    const uint8_t *p = f.y + size_t(r) * f.stride;
    for (int x = 0; x < f.width; x++) h = (h ^ p[x]) * 1099511628211ull;
  }
  return h;
}

uint64_t hash_frame(const conduit::Yuv420Frame &f) {
  uint64_t h = hash_rows(f, f.height);
  for (int r = 0; r < f.height / 2; r++) {
    for (const uint8_t *plane : {f.u, f.v}) {
      const uint8_t *p = plane + size_t(r) * f.uv_stride;
      for (int x = 0; x < f.width / 2; x++) h = (h ^ p[size_t(x) * f.uv_step]) * 1099511628211ull;
    }
  }
  return h;
}

VisionBuf *next_frame(VisionIpcClient &c, VisionIpcBufExtra *extra) {
  for (int i = 0; i < 100; i++) {
    if (VisionBuf *b = c.recv(extra, 100)) return b;
  }
  return nullptr;
}

// CPU seconds of process `pid` so far, all its threads: the run time the
// scheduler counted (/proc/PID/task/T/schedstat, nanoseconds); -1 if unreadable.
double cpu_seconds(int pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR *d = opendir(dir.c_str());
  if (!d) return -1;
  unsigned long long total = 0;
  while (dirent *e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    FILE *f = fopen((dir + "/" + e->d_name + "/schedstat").c_str(), "r");
    unsigned long long ns = 0;
    if (f && fscanf(f, "%llu", &ns) == 1) total += ns;
    if (f) fclose(f);
  }
  closedir(d);
  return double(total) / 1e9;
}

int check(VisionIpcClient &client, int n, int camerad_pid) {
  cereal::SubMaster sm({"cameradState"});
  int ok = 0, bad = 0, got = 0, osd_changes = 0, repeats = 0;
  bool rising = true;
  uint32_t last_id = 0;
  uint64_t last_osd = 0;
  std::string first_bad;
  std::vector<double> latency_us;
  uint64_t seen_mask = 0, dropped_at_first = 0;
  double cpu_at_first = 0;
  VisionIpcBufExtra extra;
  for (; got < n; got++) {
    VisionBuf *b = next_frame(client, &extra);
    if (!b) break;
    // vivid stamps buffers with nominal frame times (stream start + n periods),
    // so the latency runs from camerad's dequeue (the announcement's end of frame).
    uint64_t now = conduit::mono_ns();
    latency_us.push_back(double(now - std::min(now, extra.timestamp_eof)) / 1e3);
    if (got == 0) {
      cpu_at_first = camerad_pid ? cpu_seconds(camerad_pid) : 0;
      dropped_at_first = client.dropped();
    }
    seen_mask |= 1ull << (b->idx % 64);
    conduit::Yuv420Frame f = b->frame();
    std::string why = check_bars(f);
    (why.empty() ? ok : bad)++;
    if (!why.empty() && first_bad.empty()) first_bad = why;
    // vivid derives its sequence from the clock, so a late tick under TCG can
    // repeat one; going back would be a stale or reordered frame.
    if (got > 0 && extra.frame_id < last_id && rising) {
      rising = false;
      fprintf(stderr, "frame id %u after %u (buffer %zu)\n", extra.frame_id, last_id, b->idx);
    }
    repeats += got > 0 && extra.frame_id == last_id;
    uint64_t osd = hash_rows(f, std::min(f.height / 4, 40));
    if (got > 0 && osd != last_osd) osd_changes++;
    last_osd = osd;
    last_id = extra.frame_id;
  }
  client.release();
  // Frames camerad sent between our first and last: the ones we got and the ones we missed.
  uint64_t frames_between = uint64_t(std::max(got - 1, 0)) + client.dropped() - dropped_at_first;
  double cpu_ms_per_frame = camerad_pid && frames_between ? (cpu_seconds(camerad_pid) - cpu_at_first) * 1e3 / double(frames_between) : -1;
  std::sort(latency_us.begin(), latency_us.end());
  double p50 = latency_us.empty() ? -1 : latency_us[latency_us.size() / 2];
  // The state camerad publishes (once a second) after these frames.
  std::string path = "none";
  unsigned long long copies = 0;
  do sm.update(0); while (sm.updated("cameradState"));
  for (int i = 0; i < 30 && path == "none"; i++) {
    sm.update(100);
    if (sm.updated("cameradState")) {
      auto st = sm["cameradState"].getCameradState();
      path = st.getPath().cStr();
      copies = st.getFrameCopies();
    }
  }
  printf("CHECK frames=%d ok=%d bad=%d rising=%d repeats=%d osd_changes=%d p50_us=%.0f dropped=%llu path=%s copies=%llu "
         "layout=%zux%zu/stride%zu/uv_step%d seen=%llx cpu_ms_per_frame=%.3f first_bad=%s\n",
         got, ok, bad, int(rising), repeats, osd_changes, p50, (unsigned long long)client.dropped(), path.c_str(), copies,
         client.num_buffers ? client.buffers[0].width() : 0, client.num_buffers ? client.buffers[0].height() : 0,
         client.num_buffers ? client.buffers[0].stride() : 0, client.num_buffers ? client.buffers[0].layout.uv_step : 0, (unsigned long long)seen_mask, cpu_ms_per_frame,
         first_bad.empty() ? "-" : first_bad.c_str());
  return got == n && bad == 0 ? 0 : 1;
}

int hold(VisionIpcClient &client, double seconds) {
  VisionIpcBufExtra extra;
  VisionBuf *b = next_frame(client, &extra);
  if (!b) {
    printf("HOLD_DONE idx=-1 same=0 reason=no_frame\n");
    return 1;
  }
  uint64_t before = hash_frame(b->frame());
  printf("HOLD idx=%zu frame=%u\n", b->idx, extra.frame_id);
  fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  b->sync_start(false);  // re-read after the wait, as a reader of a device buffer must
  uint64_t after = hash_frame(b->frame());
  std::string bars = check_bars(b->frame());
  b->sync_end(false);
  printf("HOLD_DONE idx=%zu same=%d bars_ok=%d\n", b->idx, int(before == after), int(bars.empty()));
  return before == after && bars.empty() ? 0 : 1;
}

int hold_forever(VisionIpcClient &client) {
  VisionIpcBufExtra extra;
  VisionBuf *b = next_frame(client, &extra);
  if (!b) return 1;
  printf("HELD idx=%zu\n", b->idx);
  fflush(stdout);
  for (;;) pause();
}

int seek(VisionIpcClient &client, size_t idx, int n) {
  VisionIpcBufExtra extra;
  for (int i = 0; i < n; i++) {
    VisionBuf *b = next_frame(client, &extra);
    if (!b) break;
    if (b->idx == idx && check_bars(b->frame()).empty()) {
      printf("SEEK idx=%zu seen=1 after=%d\n", idx, i + 1);
      return 0;
    }
  }
  printf("SEEK idx=%zu seen=0\n", idx);
  return 1;
}

int disconnect(const char *device) {
  int fd = open(device, O_RDWR);
  if (fd < 0) {
    printf("DISCONNECT ok=0 reason=open_failed\n");
    return 1;
  }
  v4l2_queryctrl q{};
  q.id = V4L2_CTRL_FLAG_NEXT_CTRL;
  while (ioctl(fd, VIDIOC_QUERYCTRL, &q) == 0) {
    if (strcmp(reinterpret_cast<const char *>(q.name), "Disconnect") == 0) {
      v4l2_control c{q.id, 1};
      int r = ioctl(fd, VIDIOC_S_CTRL, &c);
      printf("DISCONNECT ok=%d\n", int(r == 0));
      close(fd);
      return r == 0 ? 0 : 1;
    }
    q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
  }
  printf("DISCONNECT ok=0 reason=no_disconnect_control\n");
  close(fd);
  return 1;
}

}  // namespace

int main(int argc, char **argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "disconnect" && argc == 3) return disconnect(argv[2]);
  VisionIpcClient client("camerad", VISION_STREAM_ROAD, /*conflate=*/false);
  if (!client.connect(true)) return 2;
  if (mode == "check" && (argc == 3 || argc == 4)) return check(client, atoi(argv[2]), argc == 4 ? atoi(argv[3]) : 0);
  if (mode == "hold" && argc == 3) return hold(client, atof(argv[2]));
  if (mode == "hold_forever") return hold_forever(client);
  if (mode == "seek" && argc == 4) return seek(client, size_t(atoi(argv[2])), atoi(argv[3]));
  fprintf(stderr, "usage: v4l2_guest_client check N [CAMERAD_PID] | hold SECONDS | hold_forever | seek IDX N | disconnect DEV\n");
  return 2;
}
