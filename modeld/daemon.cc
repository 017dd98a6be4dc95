#include "modeld/daemon.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cereal/messaging.h"
#include "cereal/stream_stats.h"
#include "common/clock.h"
#include "common/watchdog.h"
#include "visionipc/visionipc_client.h"

namespace modeld {

namespace {

// liveCalibration.warpMatrix as a Mat3, if it holds 9 finite values.
bool read_calibration(const cereal::SubMaster &sm, Mat3 &out) {
  auto m = sm["liveCalibration"].getLiveCalibration().getWarpMatrix();
  if (m.size() != 9) return false;
  Mat3 r;
  for (int i = 0; i < 9; i++) {
    r[i] = m[i];
    if (!std::isfinite(r[i])) return false;
  }
  out = r;
  return true;
}

void publish_state(cereal::PubMaster &pm, cereal::StreamCounters &stats, const char *backend) {
  cereal::MessageBuilder msg;
  auto st = msg.initEvent(true).initModeldState();
  stats.fill(st.initStream(), "road");
  st.setBackend(backend);
  pm.send("modeldState", msg);
}

}  // namespace

Daemon::Daemon(std::unique_ptr<ModelPipeline> pipeline, DaemonOptions options)
    : pipeline_(std::move(pipeline)), options_(std::move(options)) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  ModelRunner &runner = pipeline_->runner();
  const char *backend = backend_name(pipeline_->device().backend());

  // Output buffers, output indices and shapes: fixed for the life of the process.
  std::vector<float> raw;
  std::vector<uint32_t> output_shape;
  std::vector<size_t> offsets;
  for (size_t i = 0; i < runner.output_count(); i++) {
    offsets.push_back(raw.size());
    raw.resize(raw.size() + shape_count(runner.output(i).shape));
    for (int d : runner.output(i).shape) output_shape.push_back(uint32_t(d));
  }
  auto find_output = [&](const char *name) -> int {
    for (size_t i = 0; i < runner.output_count(); i++)
      if (runner.output(i).name == name) return int(i);
    return -1;
  };
  const int row_edges = find_output("row_edges"), scene_change = find_output("scene_change");

  // One pass on a blank frame before the camera's first: OpenCL drivers (pocl)
  // compile kernels at their first launch, which would otherwise delay frame 1.
  {
    std::vector<uint8_t> blank(64 * 32 * 3 / 2, 0);
    Frame f{blank.data(), conduit::yuv420_layout(conduit::PixelFormat::kNv12, 64, 32)};
    pipeline_->process(f, default_warp(64, 32, pipeline_->model_width(), pipeline_->model_height()));
    pipeline_->transform().release_frame_buffers();
    pipeline_->reset_history();
  }

  cereal::PubMaster pm({"modelV2", "modeldState"});
  cereal::StreamCounters stats;
  uint64_t next_state_ns = 0;
  cereal::SubMaster sm({"liveCalibration", "roadCameraState"}, {"liveCalibration"}, {}, true);
  VisionIpcClient client(options_.server, VisionStreamType(options_.stream), true);
  while (!stop_ && !client.connect(false)) {
    conduit::watchdog_kick();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (stop_) return 0;
  fprintf(stderr, "modeld: connected to %s stream %d: %zu buffers of %zux%zu %s\n", options_.server.c_str(),
          options_.stream, client.num_buffers, client.buffers[0].width(), client.buffers[0].height(),
          conduit::pixel_format_name(client.buffers[0].layout.format()));

  Mat3 warp{};
  bool calibrated = false;
  size_t warp_w = 0, warp_h = 0;
  uint64_t reconnects = client.reconnects(), published = 0;
  DropCounter drops;
  while (!stop_) {
    VisionIpcBufExtra extra;
    VisionBuf *buf = client.recv(&extra, 100);
    conduit::watchdog_kick();
    if (uint64_t now = conduit::mono_ns(); now >= next_state_ns) {
      stats.dropped = client.dropped();
      publish_state(pm, stats, backend);
      next_state_ns = now + 1000000000ull;
    }
    if (!buf) continue;
    if (client.reconnects() != reconnects) {
      // New mappings: forget wrappers of the old ones and the old frame history.
      reconnects = client.reconnects();
      pipeline_->transform().release_frame_buffers();
      pipeline_->reset_history();
    }
    sm.update(0);
    if (sm.updated("liveCalibration")) {
      calibrated = read_calibration(sm, warp);
      if (!calibrated) fprintf(stderr, "modeld: ignoring liveCalibration: warpMatrix is not 9 finite values\n");
    }
    if (!calibrated && (warp_w != buf->width() || warp_h != buf->height())) {
      warp = default_warp(int(buf->width()), int(buf->height()), pipeline_->model_width(), pipeline_->model_height());
      warp_w = buf->width();
      warp_h = buf->height();
    }

    Frame frame{buf->addr, buf->layout};
    buf->sync_start(false);
    FrameTimings t = pipeline_->process(frame, warp);
    buf->sync_end(false);
    client.release();  // the pixels are consumed: give the buffer back to the camera now
    for (size_t i = 0; i < runner.output_count(); i++) runner.read_output(i, raw.data() + offsets[i]);

    sm.update(0);
    uint32_t newest = sm.rcv_frame("roadCameraState") ? sm["roadCameraState"].getRoadCameraState().getFrameId() : 0;
    cereal::MessageBuilder msg;
    auto m = msg.initEvent(extra.valid).initModelV2();
    m.setFrameId(extra.frame_id);
    m.setFrameAge(newest > extra.frame_id ? newest - extra.frame_id : 0);
    m.setFrameDropPerc(drops.add(extra.frame_id));
    m.setTimestampEof(extra.timestamp_eof);
    m.setModelExecutionTime(float(t.total_ms * 1e-3));
    m.setTransformTime(float(t.transform_ms * 1e-3));
    m.setGpuExecutionTime(float(t.device_ms * 1e-3));
    m.setBackend(backend);
    m.setRawPredictions(kj::arrayPtr(reinterpret_cast<const kj::byte *>(raw.data()), raw.size() * sizeof(float)));
    auto in_shape = m.initInputShape(uint32_t(runner.input(0).shape.size()));
    for (size_t i = 0; i < runner.input(0).shape.size(); i++) in_shape.set(i, uint32_t(runner.input(0).shape[i]));
    auto out_shape = m.initOutputShape(uint32_t(output_shape.size()));
    for (size_t i = 0; i < output_shape.size(); i++) out_shape.set(i, output_shape[i]);
    if (row_edges >= 0) {
      size_t n = shape_count(runner.output(row_edges).shape);
      auto rows = m.initRowEdges(uint32_t(n));
      for (size_t i = 0; i < n; i++) rows.set(i, raw[offsets[row_edges] + i]);
    }
    if (scene_change >= 0) m.setSceneChange(raw[offsets[scene_change]]);
    pm.send("modelV2", msg);
    stats.frame(0, uint64_t(t.total_ms * 1e6));
    published++;
    if (options_.max_frames && published >= options_.max_frames) break;
  }
  stats.dropped = client.dropped();
  publish_state(pm, stats, backend);
  fprintf(stderr, "modeld: published %llu frames, %llu dropped by conflation\n", (unsigned long long)published,
          (unsigned long long)client.dropped());
  return 0;
}

}  // namespace modeld
