// encoderd: encodes camerad's VisionIPC streams. Per camera a full-resolution
// H.265 output (fcamera/ecamera/dcamera), and for the road camera a small H.264
// qcamera. Publishes <cam>EncodeData (packet + index + codec header on
// keyframes) and <cam>EncodeIdx. One thread and one VisionIPC client per output,
// so a slow encoder only drops its own frames; camerad is never blocked. The
// main thread publishes encoderdState once a second: per output, packets,
// dropped frames, bytes, mean encode time, fps and frames inside the codec.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libavutil/log.h>
}

#include "common/command_line.h"
#include "cereal/messaging.h"
#include "cereal/stream_stats.h"
#include "cereal/streams.h"
#include "common/clock.h"
#include "common/stop_signal.h"
#include "common/watchdog.h"
#include "encoderd/stream_encoder.h"
#include "visionipc/visionipc_client.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_failed{0};

void on_signal(int) { g_stop = true; }

struct Output {
  const cereal::Video *video;
  encoderd::EncoderConfig config;
};

void fill_index(cereal::EncodeIndex::Builder idx, const Output &o, const encoderd::EncodedFrame &f, int w, int h,
                float encode_time) {
  idx.setFrameId(f.frame_id);
  idx.setType(o.video->qcamera ? cereal::EncodeIndex::Type::QCAMERA_H264 : cereal::EncodeIndex::Type::FULL_H_E_V_C);
  idx.setEncodeId(f.encode_id);
  idx.setSegmentNum(int32_t(f.segment_num));
  idx.setSegmentId(f.segment_id);
  idx.setSegmentIdEncode(f.segment_id_encode);
  idx.setTimestampSof(f.timestamp_sof);
  idx.setTimestampEof(f.timestamp_eof);
  idx.setFlags(f.keyframe ? cereal::EncodeIndex::FLAG_KEYFRAME : 0);
  idx.setLen(uint32_t(f.size));
  idx.setWidth(uint32_t(w));
  idx.setHeight(uint32_t(h));
  idx.setDroppedFrames(f.dropped_frames);
  idx.setPts(f.pts);
  idx.setEncodeTime(encode_time);
}

uint64_t unix_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void publish_state(cereal::PubMaster &pm, const std::vector<Output> &outputs,
                   std::vector<std::unique_ptr<cereal::StreamCounters>> &counters) {
  cereal::MessageBuilder msg;
  auto streams = msg.initEvent(true).initEncoderdState().initStreams(uint32_t(outputs.size()));
  for (size_t i = 0; i < outputs.size(); i++) counters[i]->fill(streams[uint32_t(i)], outputs[i].video->name);
  pm.send("encoderdState", msg);
}

void run_output(const Output &o, const std::string &server, encoderd::SegmentClock &clock,
                cereal::StreamCounters &stats) {
  const cereal::Video &v = *o.video;
  VisionIpcClient client(server, cereal::camera_info(v.camera).vision_stream, false);
  cereal::PubMaster pm({v.data_service, v.idx_service});
  std::unique_ptr<encoderd::StreamEncoder> enc;
  uint32_t last_segment = UINT32_MAX;
  auto sink = [&](const encoderd::EncodedFrame &f) {
    float encode_time = float(f.encode_ns * 1e-9);
    int w = enc->encoder().width(), h = enc->encoder().height();
    {
      cereal::MessageBuilder msg;
      cereal::EncodeData::Builder data = cereal::init_encode_data(msg.initEvent(true), v);
      fill_index(data.initIdx(), o, f, w, h, encode_time);
      data.setData(capnp::Data::Reader(f.data, f.size));
      if (!f.header->empty()) {
        data.setHeader(capnp::Data::Reader(reinterpret_cast<const uint8_t *>(f.header->data()), f.header->size()));
      }
      data.setUnixTimestampNanos(unix_ns());
      pm.send(v.data_service, msg);
    }
    cereal::MessageBuilder msg;
    fill_index(cereal::init_encode_idx(msg.initEvent(true), v), o, f, w, h, encode_time);
    pm.send(v.idx_service, msg);
    stats.frame(f.size, f.encode_ns);
    if (f.segment_num != last_segment) {
      last_segment = f.segment_num;
      fprintf(stderr, "encoderd: %s: segment %u starts at frame %u (%u frames dropped so far)\n", o.video->name,
              f.segment_num, f.frame_id, f.dropped_frames);
    }
  };
  uint64_t frames = 0;
  while (!g_stop) {
    conduit::watchdog_kick();
    if (!client.connected && !client.connect(false)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    VisionIpcBufExtra extra;
    VisionBuf *buf = client.recv(&extra, 100);
    if (!buf) continue;
    conduit::Yuv420Frame frame = buf->frame();
    if (!enc) enc = std::make_unique<encoderd::StreamEncoder>(o.config, frame.width, frame.height, frame.format(), clock, sink);
    bool opened = enc->push(frame, {extra.frame_id, extra.timestamp_sof, extra.timestamp_eof}, client.server_id(),
                            [&client] { client.release(); });
    if (opened) {  // the first frame, or camerad came back with another size or layout
      fprintf(stderr, "encoderd: %s: %s %dx%d (%s frames, %s codec input, %s)\n", o.video->name,
              enc->encoder().codec_name().c_str(), enc->encoder().width(), enc->encoder().height(),
              conduit::pixel_format_name(frame.format()), enc->encoder().input_pixel_format(),
              enc->encoder().scales() ? "scaled" : "in place");
    }
    frames++;
    stats.dropped = enc->dropped();
    stats.errors = enc->rejected();
    stats.queue_depth = enc->in_flight();
  }
  if (enc) {
    enc->flush();
    stats.queue_depth = 0;
    fprintf(stderr, "encoderd: %s: stopped after %llu frames, %u packets, %u dropped, %.3f frame copies per frame\n",
            o.video->name, (unsigned long long)frames, enc->packets(), enc->dropped(),
            enc->encoder().frames_in() ? enc->encoder().copied_bytes() /
                                             (enc->encoder().input_width() * enc->encoder().input_height() * 1.5) /
                                             enc->encoder().frames_in()
                                       : 0.0);
  }
}

}  // namespace

int main(int argc, char **argv) {
  conduit::CommandLine cl("encoderd",
                          "Encoder process: encodes camerad's VisionIPC streams with libavcodec (full-resolution\n"
                          "H.265 per camera, H.264 qcamera from the road camera) and publishes <cam>EncodeData and\n"
                          "<cam>EncodeIdx. Reads the layout camerad serves: I420 (camerad --pixel-format yuv420p)\n"
                          "reaches libx265 with no copy, NV12 costs a U/V split per frame (libx265 takes planar\n"
                          "input only). Segments are counted in frames (fps x segment seconds) and each starts\n"
                          "with a keyframe. Frames it cannot keep up with are dropped and counted (droppedFrames),\n"
                          "camerad is never blocked. Reconnects when camerad restarts; SIGINT/SIGTERM flush and stop.");
  cl.option("cameras", "LIST", "road,wide", "cameras to encode, a comma-separated subset of road,wide,driver");
  cl.option("server", "NAME", "camerad", "VisionIPC server to read from");
  cl.option("fps", "N", "20", "camera frame rate (sets the codec time base and the frames per segment)");
  cl.option("segment-seconds", "S", "60", "segment length in seconds; a segment holds fps x S frames");
  cl.option("segment-frames", "N", "0", "segment length in frames (overrides --segment-seconds when > 0)");
  cl.option("codec", "NAME", "auto-hevc",
            "full-resolution encoder: auto-hevc (hevc_nvenc if a GPU has it, else libx265), libx265,\n"
            "                            hevc_nvenc, libx264, ...");
  const encoderd::EncoderConfig defaults;
  cl.option("bitrate", "BPS", std::to_string(defaults.bitrate), "full-resolution bitrate in bits/s (k and M suffixes)");
  cl.option("gop", "N", std::to_string(defaults.gop), "frames between keyframes (each segment start is one too)");
  cl.option("preset", "NAME", defaults.preset, "libx265/libx264 preset");
  cl.option("tune", "NAME", defaults.tune, "libx265/libx264 tune (empty for none)");
  cl.option("x265-params", "K=V:...", defaults.x265_params, "extra x265 parameters when the encoder is libx265");
  cl.option("x264-params", "K=V:...", "", "extra x264 parameters for libx264 (full-resolution and qcamera)");
  cl.flag("no-qcam", "do not encode the qcamera stream");
  cl.option("qcam-size", "WxH", "526x330", "qcamera size");
  cl.option("qcam-bitrate", "BPS", "256k", "qcamera bitrate in bits/s");
  cl.option("qcam-codec", "NAME", "libx264", "qcamera encoder");
  std::vector<Output> outputs;
  std::string server;
  uint32_t frames_per_segment = 0;
  try {
    if (!cl.parse(argc, argv)) {
      fputs(cl.help().c_str(), stdout);
      return 0;
    }
    server = cl.str("server");
    int fps = int(cl.integer("fps", 1, 1000));
    int64_t seg_frames = cl.integer("segment-frames", 0, INT32_MAX);
    frames_per_segment = uint32_t(seg_frames ? seg_frames : fps * cl.integer("segment-seconds", 1, 86400));
    encoderd::EncoderConfig full;
    full.codec = cl.str("codec");
    full.fps = fps;
    full.bitrate = cl.integer("bitrate", 1000, 1000000000);
    full.gop = int(cl.integer("gop", 1, 100000));
    full.preset = cl.str("preset");
    full.tune = cl.str("tune");
    full.x265_params = cl.str("x265-params");
    full.x264_params = cl.str("x264-params");
    encoderd::EncoderConfig q = full;
    q.codec = cl.str("qcam-codec");
    cl.size("qcam-size", q.width, q.height);
    q.bitrate = cl.integer("qcam-bitrate", 1000, 1000000000);
    for (cereal::Camera c : cereal::parse_camera_list(cl.str("cameras"))) {
      for (const cereal::Video &v : cereal::kVideos) {
        if (v.camera != c || (v.qcamera && cl.on("no-qcam"))) continue;
        outputs.push_back({&v, v.qcamera ? q : full});
      }
    }
    av_log_set_level(AV_LOG_WARNING);
    // Open each codec once now, so a bad codec name or option fails at start.
    for (Output &o : outputs) {
      encoderd::VideoEncoder probe(o.config, 1928, 1208);
      if (o.config.codec == "auto-hevc") o.config.codec = probe.codec_name();
    }
  } catch (const std::exception &e) {
    fprintf(stderr, "%s\n", e.what());
    return 2;
  }

  conduit::on_stop_signal(on_signal);

  encoderd::SegmentClock clock(frames_per_segment);
  std::vector<std::unique_ptr<cereal::StreamCounters>> counters;
  for (size_t i = 0; i < outputs.size(); i++) counters.push_back(std::make_unique<cereal::StreamCounters>());
  cereal::PubMaster pm({"encoderdState"});
  std::vector<std::thread> threads;
  for (size_t i = 0; i < outputs.size(); i++) {
    threads.emplace_back([&o = outputs[i], &stats = *counters[i], &server, &clock] {
      try {
        run_output(o, server, clock, stats);
      } catch (const std::exception &e) {
        fprintf(stderr, "encoderd: %s: %s\n", o.video->name, e.what());
        g_failed = 1;
        g_stop = true;
      }
    });
  }
  fprintf(stderr, "encoderd: %zu outputs from VisionIPC '%s', %u frames per segment\n", outputs.size(),
          server.c_str(), frames_per_segment);
  for (uint64_t next = 0; !g_stop; std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    uint64_t now = conduit::mono_ns();
    if (now < next) continue;
    publish_state(pm, outputs, counters);
    next = now + 1000000000ull;
  }
  for (std::thread &t : threads) t.join();
  publish_state(pm, outputs, counters);  // the final counts, after the codecs were flushed
  return g_failed ? 1 : 0;
}
