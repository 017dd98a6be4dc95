// camerad: the camera process. Serves frames on VisionIPC server "camerad"
// (one stream per camera) and publishes a FrameData per frame on
// roadCameraState / wideRoadCameraState / driverCameraState.
// Sources: synthetic (default), file:PATH, v4l2[:DEVICE]. See --help.
// cameradState once a second: per camera frames sent, dropped (every buffer
// held by clients), fps; missed deadlines; the v4l2 path and its copies.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "camerad/camera_stream.h"
#include "camerad/device_return.h"
#include "common/command_line.h"
#include "camerad/frame_source.h"
#include "camerad/pacer.h"
#include "common/realtime.h"
#include "camerad/v4l2_camera.h"
#include "cereal/messaging.h"
#include "cereal/stream_stats.h"
#include "common/clock.h"
#include "common/stop_signal.h"
#include "common/watchdog.h"
#include "visionipc/visionipc_server.h"

namespace {

using camerad::CameraStream;

std::atomic<bool> g_stop{false};
std::atomic<camerad::Pacer *> g_pacer{nullptr};

void on_signal(int) {
  g_stop = true;
  if (camerad::Pacer *p = g_pacer.load()) p->stop();
}

struct Camera {
  CameraStream stream;
  const camerad::CameraInfo *info;
  uint64_t sent = 0;
  std::shared_ptr<cereal::StreamCounters> stats = std::make_shared<cereal::StreamCounters>();
};

// What cameradState says beside the cameras.
struct SourceState {
  const char *path = "";  // v4l2 only
  std::string device;
  uint64_t frame_copies = 0, bytes_copied = 0, late_ticks = 0;
};

void publish_camerad_state(cereal::PubMaster &pm, VisionIpcServer &server, std::span<Camera> cams,
                           const SourceState &src) {
  cereal::MessageBuilder msg;
  cereal::CameradState::Builder st = msg.initEvent(true).initCameradState();
  auto out = st.initCameras(uint32_t(cams.size()));
  for (size_t i = 0; i < cams.size(); i++) {
    cams[i].stats->dropped = server.dropped_frames(cams[i].info->vision_stream);
    cams[i].stats->fill(out[uint32_t(i)], cams[i].info->name);
  }
  st.setPath(src.path);
  st.setDevice(src.device);
  st.setFrameCopies(src.frame_copies);
  st.setBytesCopied(src.bytes_copied);
  st.setLateTicks(src.late_ticks);
  pm.send("cameradState", msg);
}

struct Settings {
  int width, height, fps;
  conduit::PixelFormat format;
  uint64_t max_frames;
};

void publish_frame_data(cereal::PubMaster &pm, Camera &cam, const VisionBuf *buf, const VisionIpcBufExtra &extra,
                        uint64_t dropped, const Settings &s, const char *source, const std::string &sensor) {
  cam.stats->frame(buf->layout.size(), conduit::mono_ns() - extra.timestamp_sof);
  cereal::MessageBuilder msg;
  cereal::Event::Builder ev = msg.initEvent(true);
  cereal::FrameData::Builder fd = cereal::init_camera_state(ev, cam.stream);
  fd.setFrameId(extra.frame_id);
  fd.setTimestampSof(extra.timestamp_sof);
  fd.setTimestampEof(extra.timestamp_eof);
  fd.setProcessingTime(float((conduit::mono_ns() - extra.timestamp_eof) * 1e-9));
  fd.setGain(1.0f);
  fd.setSensor(sensor);
  fd.setSource(source);
  fd.setWidth(uint32_t(s.width));
  fd.setHeight(uint32_t(s.height));
  fd.setDroppedFrames(uint32_t(dropped));
  fd.setBufferId(uint32_t(buf->idx));
  pm.send(cam.info->state_service, msg);
}

// Synthetic and file sources: one frame per camera per tick of the pacer.
int run_paced(VisionIpcServer &server, cereal::PubMaster &pm, std::vector<Camera> &cams, camerad::FrameSource &source,
              const Settings &s) {
  camerad::Pacer pacer(s.fps);
  g_pacer = &pacer;
  camerad::Tick tick;
  const uint64_t start = pacer.deadline(0);
  bool ended = false;
  uint64_t next_state_ns = 0;
  while (!g_stop && !ended && pacer.wait(tick)) {
    conduit::watchdog_kick();
    if (tick.deadline >= next_state_ns) {
      publish_camerad_state(pm, server, cams, SourceState{"", "", 0, 0, pacer.skipped()});
      next_state_ns = tick.deadline + 1000000000ull;
    }
    if (s.max_frames && tick.index >= s.max_frames) break;
    for (Camera &cam : cams) {
      VisionBuf *buf = server.get_buffer(cam.info->vision_stream);
      if (!buf) continue;  // every buffer held by a client: dropped, counted by the server
      if (!source.fill(cam.stream, uint32_t(tick.index), tick.deadline - start, buf->frame())) {
        ended = true;
        break;
      }
      VisionIpcBufExtra extra;
      extra.frame_id = uint32_t(tick.index);
      extra.timestamp_sof = tick.deadline;
      extra.timestamp_eof = conduit::mono_ns();
      server.send(buf, &extra);
      cam.sent++;
      publish_frame_data(pm, cam, buf, extra, server.dropped_frames(cam.info->vision_stream), s, source.name(),
                         source.sensor());
    }
  }
  g_pacer = nullptr;
  publish_camerad_state(pm, server, cams, SourceState{"", "", 0, 0, pacer.skipped()});
  for (const Camera &cam : cams) {
    fprintf(stderr, "camerad: %s: %llu frames sent, %llu dropped (all buffers held)\n", cam.info->name,
            (unsigned long long)cam.sent, (unsigned long long)server.dropped_frames(cam.info->vision_stream));
  }
  fprintf(stderr, "camerad: stopped; %llu ticks skipped (camerad was late)%s\n", (unsigned long long)pacer.skipped(),
          ended ? ", source ended" : "");
  return 0;
}

// V4L2: the device paces. The dmabuf path serves the device's own buffers
// (exported DMA-BUFs) as the stream's VisionIPC buffers; the copy path writes
// each frame once into VisionIPC buffers of the requested layout.
struct V4l2Setup {
  bool dmabuf = false;
  size_t buffers = 0;    // dmabuf: the device's buffers, the stream's
  std::string why_copy;  // why the copy path was taken
};

V4l2Setup setup_v4l2(VisionIpcServer &server, camerad::V4l2Camera &dev, const Camera &cam, size_t nbuf,
                     const Settings &s, const std::string &path) {
  V4l2Setup out;
  VisionStreamType type = cam.info->vision_stream;
  std::optional<conduit::Yuv420Layout> l = dev.device_layout();
  if (path == "copy") {
    out.why_copy = "--v4l2-path copy";
  } else if (!l) {
    out.why_copy = "the device delivers " + dev.format() + ", not NV12 or I420";
  } else if (l->width != s.width || l->height != s.height) {
    out.why_copy = "the device delivers " + dev.format() + ", not " + std::to_string(s.width) + "x" + std::to_string(s.height);
  } else {
    try {
      std::vector<visionipc::UniqueFd> fds = dev.export_buffers(int(nbuf));
      out.buffers = fds.size();
      server.create_device_buffers(type, std::move(fds), *l);
      out.dmabuf = true;
      return out;
    } catch (const std::exception &e) {
      out.why_copy = e.what();
    }
  }
  if (path == "dmabuf") throw camerad::V4l2Error("--v4l2-path dmabuf is not possible: " + out.why_copy);
  server.create_buffers(type, nbuf, size_t(s.width), size_t(s.height), s.format);
  dev.start_copy(4);
  return out;
}

int run_v4l2(VisionIpcServer &server, cereal::PubMaster &pm, Camera &cam, camerad::V4l2Camera &dev,
             const V4l2Setup &setup, const Settings &s) {
  const char *path = setup.dmabuf ? "dmabuf" : "copy";
  std::string sensor = "v4l2:" + dev.card();
  std::string device = dev.device() + " (" + dev.card() + "), " + dev.format();
  fprintf(stderr, "camerad: %s, path %s%s%s\n", device.c_str(), path, setup.dmabuf ? "" : ": ", setup.why_copy.c_str());
  VisionStreamType type = cam.info->vision_stream;
  uint64_t frame_copies = 0, next_state_ns = 0;
  std::optional<uint32_t> last_seq;
  // Every frame the device took counts: the driver's sequence gaps are frames
  // it had no buffer for (all of them out with clients).
  auto publish = [&](VisionBuf *buf, const camerad::V4l2Capture &c) {
    if (last_seq && c.sequence > *last_seq + 1) server.count_dropped(type, c.sequence - *last_seq - 1);
    last_seq = c.sequence;
    if (!buf) return;
    VisionIpcBufExtra extra;
    extra.frame_id = c.sequence;
    extra.timestamp_sof = c.timestamp_ns;
    extra.timestamp_eof = conduit::mono_ns();
    server.send(buf, &extra);
    cam.sent++;
    publish_frame_data(pm, cam, buf, extra, server.dropped_frames(type), s, "v4l2", sensor);
  };
  // cameradState once a second; false once stopped or --frames were sent.
  auto keep_going = [&] {
    uint64_t now = conduit::mono_ns();
    if (now >= next_state_ns) {
      publish_camerad_state(pm, server, {&cam, 1}, {path, device, frame_copies, dev.bytes_copied()});
      next_state_ns = now + 1000000000ull;
    }
    return !g_stop && !(s.max_frames && cam.sent >= s.max_frames);
  };
  camerad::V4l2Capture c;
  if (setup.dmabuf) {
    // A buffer goes (back) to the device only once no client holds it, and
    // not before clients had their turn at its frame (device_return.h).
    std::vector<VisionBuf *> in_device(setup.buffers, nullptr);
    camerad::DeviceReturn returns(setup.buffers, std::max<size_t>(1, setup.buffers / 2), 1000000000ull / uint64_t(s.fps));
    auto queued = [&] { return size_t(dev.queued()); };
    auto give = [&](size_t i) {
      if (!(in_device[i] = server.claim_buffer(type, i))) return false;
      dev.queue(int(i));
      return true;
    };
    while (keep_going()) {
      conduit::watchdog_kick();
      int wait_ms = returns.refill(conduit::mono_ns(), queued, give);
      // Look again soon when a buffer is due or held, else wait for the device.
      int timeout_ms = wait_ms < 0 ? 100 : std::clamp(wait_ms, 5, 100);
      if (dev.queued() == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
        continue;
      }
      if (dev.dequeue(timeout_ms, c)) {
        VisionBuf *buf = in_device.at(size_t(c.index));
        in_device[size_t(c.index)] = nullptr;
        publish(buf, c);
        returns.sent(size_t(c.index), conduit::mono_ns());
      }
    }
  } else {
    conduit::Yuv420Layout scratch_layout = conduit::yuv420_layout(s.format, s.width, s.height);
    std::vector<uint8_t> scratch(scratch_layout.size());
    conduit::Yuv420Frame scratch_frame = conduit::Yuv420Frame::at(scratch.data(), scratch_layout);
    VisionBuf *buf = nullptr;
    while (keep_going()) {
      conduit::watchdog_kick();
      if (!buf) buf = server.get_buffer(type);
      // With every buffer held the device frame still has to be taken (and dropped).
      if (!dev.capture(buf ? buf->frame() : scratch_frame, 100, c)) continue;
      frame_copies++;
      publish(buf, c);
      buf = nullptr;
    }
  }
  publish_camerad_state(pm, server, {&cam, 1}, {path, device, frame_copies, dev.bytes_copied()});
  fprintf(stderr, "camerad: %s: %llu frames sent, %llu dropped, %llu copied (path %s)\n", cam.info->name,
          (unsigned long long)cam.sent, (unsigned long long)server.dropped_frames(type),
          (unsigned long long)frame_copies, path);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  conduit::CommandLine cl("camerad",
                          "Camera process: serves 4:2:0 frames (NV12 or I420) on VisionIPC (one stream per camera) and publishes\n"
                          "FrameData on roadCameraState / wideRoadCameraState / driverCameraState. Frame pacing\n"
                          "uses absolute CLOCK_MONOTONIC deadlines (no drift); SIGINT/SIGTERM stop it cleanly.");
  cl.option("source", "SRC", "synthetic",
            "synthetic (moving road scene, pixels a function of frame id), file:PATH (any video\n"
            "                            libavformat reads, real-time, looped) or v4l2[:DEVICE] (default: first /dev/video*)");
  cl.option("cameras", "LIST", "road,wide", "cameras to serve, a comma-separated subset of road,wide,driver");
  cl.option("fps", "N", "20", "frames per second (synthetic and file; a V4L2 device is asked for it)");
  cl.option("size", "WxH", "1928x1208", "frame size (file and V4L2 frames are scaled to it)");
  cl.option("pixel-format", "FMT", "nv12",
            "layout of the frame buffers: nv12 (Y plane + interleaved UV plane, what camera ISPs write)\n"
            "                            or yuv420p (I420: Y, U and V planes, what libx265 encodes without a copy).\n"
            "                            synthetic and file write it directly; v4l2 asks the device for it (else\n"
            "                            for NV12) and converts what the device delivers");
  cl.option("buffers", "N", "8", "VisionIPC buffers per camera (clients may hold some; when all are held a frame is dropped)");
  cl.option("server", "NAME", "camerad", "VisionIPC server name");
  cl.option("frames", "N", "0", "stop after N frames per camera (0 = run until SIGINT/SIGTERM)");
  cl.option("v4l2-path", "PATH", "auto",
            "v4l2: dmabuf (the device's buffers exported as DMA-BUFs are the VisionIPC buffers: no copy),\n"
            "                            copy (each frame written once into VisionIPC buffers) or auto (dmabuf\n"
            "                            when the device delivers NV12/I420 at --size and can export, else copy)");
  cl.flag("no-loop", "file source: stop at the end of the file instead of looping");
  cl.option("rt-priority", "N", "0",
            "run the frame loop SCHED_FIFO at priority N (1..99) for steadier pacing on a loaded\n"
            "                            machine; 0 = normal scheduling. Falls back with a warning if not permitted");
  Settings s{};
  std::vector<Camera> cams;
  std::string source_spec;
  size_t nbuf = 0;
  int rt_priority = 0;
  std::string v4l2_path;
  try {
    if (!cl.parse(argc, argv)) {
      fputs(cl.help().c_str(), stdout);
      return 0;
    }
    cl.size("size", s.width, s.height);
    s.fps = int(cl.integer("fps", 1, 1000));
    s.format = conduit::parse_pixel_format(cl.str("pixel-format"));
    s.max_frames = uint64_t(cl.integer("frames", 0, INT64_MAX));
    nbuf = size_t(cl.integer("buffers", 2, visionipc::kMaxBuffersPerStream));
    rt_priority = int(cl.integer("rt-priority", 0, 99));
    for (CameraStream c : camerad::parse_camera_list(cl.str("cameras"))) cams.push_back({c, &camerad::camera_info(c)});
    source_spec = cl.str("source");
    v4l2_path = cl.str("v4l2-path");
    if (v4l2_path != "auto" && v4l2_path != "dmabuf" && v4l2_path != "copy") {
      throw std::invalid_argument("camerad: --v4l2-path '" + v4l2_path + "': expected auto, dmabuf or copy");
    }
    bool known = source_spec == "synthetic" || source_spec == "v4l2" || source_spec.rfind("v4l2:", 0) == 0 ||
                 (source_spec.rfind("file:", 0) == 0 && source_spec.size() > 5);
    if (!known) {
      throw std::invalid_argument("camerad: --source '" + source_spec +
                                  "': expected synthetic, file:PATH, v4l2 or v4l2:DEVICE");
    }
    if (source_spec.rfind("v4l2", 0) == 0 && cams.size() != 1) {
      throw std::invalid_argument("camerad: the v4l2 source serves one camera, got --cameras " + cl.str("cameras"));
    }
  } catch (const std::invalid_argument &e) {
    fprintf(stderr, "%s\n", e.what());
    return 2;
  }

  conduit::on_stop_signal(on_signal);

  try {
    std::unique_ptr<camerad::FrameSource> source;
    if (source_spec == "synthetic") {
      source = camerad::make_synthetic_source();
    } else if (source_spec.rfind("file:", 0) == 0) {
      source = camerad::make_file_source(source_spec.substr(5), s.width, s.height, !cl.on("no-loop"), s.fps);
    }
    VisionIpcServer server(cl.str("server"));
    std::vector<std::string> topics = {"cameradState"};
    std::unique_ptr<camerad::V4l2Camera> dev;
    V4l2Setup v4l2;
    for (const Camera &c : cams) {
      if (source) server.create_buffers(c.info->vision_stream, nbuf, size_t(s.width), size_t(s.height), s.format);
      topics.push_back(c.info->state_service);
    }
    if (!source) {
      dev = std::make_unique<camerad::V4l2Camera>(source_spec.size() > 5 ? source_spec.substr(5) : "", s.width,
                                                  s.height, s.fps, s.format);
      v4l2 = setup_v4l2(server, *dev, cams[0], nbuf, s, v4l2_path);
    }
    server.start_listener();
    cereal::PubMaster pm(topics);
    if (rt_priority) {
      std::string err = conduit::set_realtime_priority(rt_priority);
      if (!err.empty()) fprintf(stderr, "camerad: warning: SCHED_FIFO %d: %s; pacing with normal scheduling\n", rt_priority, err.c_str());
    }
    fprintf(stderr, "camerad: serving %s at %dx%d %s %d fps from %s on VisionIPC '%s'\n", cl.str("cameras").c_str(),
            s.width, s.height, conduit::pixel_format_name(s.format), s.fps, source_spec.c_str(), cl.str("server").c_str());
    if (source) return run_paced(server, pm, cams, *source, s);
    return run_v4l2(server, pm, cams[0], *dev, v4l2, s);
  } catch (const std::exception &e) {
    fprintf(stderr, "camerad: %s\n", e.what());
    return 1;
  }
}
