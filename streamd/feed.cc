// streamd_feed: publishes a synthetic qcamera stream on qRoadEncodeData, as
// encoderd would, without a camera or an encoder running: it encodes
// --frames synthetic road frames with libx264 once (keyframe every --gop),
// then publishes them in a loop at --fps with timestampSof = the send time,
// so a receiver can measure packet-to-client lag. For streamd's tests and
// benchmark. Prints "ready" once the frames are encoded; SIGINT/SIGTERM stop it.
#include <signal.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "camerad/synthetic_scene.h"
#include "cereal/messaging.h"
#include "common/clock.h"
#include "common/command_line.h"
#include "common/stop_signal.h"
#include "encoderd/video_encoder.h"

extern "C" {
#include <libavutil/log.h>
}

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Packet {
  std::string data, header;
  bool keyframe;
};

}  // namespace

int main(int argc, char **argv) {
  conduit::CommandLine cl("streamd_feed", "Publishes a looped synthetic H.264 qcamera stream on qRoadEncodeData.");
  cl.option("fps", "N", "20", "packets per second");
  cl.option("frames", "N", "40", "distinct frames encoded (then looped)");
  cl.option("gop", "N", "20", "frames between keyframes");
  cl.option("size", "WxH", "526x330", "frame size");
  cl.option("bitrate", "BPS", "256k", "bits per second");
  cl.option("duration", "S", "0", "stop after this many seconds (0: run until signalled)");
  int fps, frames, gop, w, h;
  int64_t bitrate, duration;
  try {
    if (!cl.parse(argc, argv)) {
      fputs(cl.help().c_str(), stdout);
      return 0;
    }
    fps = int(cl.integer("fps", 1, 1000));
    frames = int(cl.integer("frames", 1, 100000));
    gop = int(cl.integer("gop", 1, 100000));
    bitrate = cl.integer("bitrate", 1000, 1000000000);
    duration = cl.integer("duration", 0, 86400);
    cl.size("size", w, h);
  } catch (const std::exception &e) {
    fprintf(stderr, "streamd_feed: %s\n", e.what());
    return 2;
  }
  conduit::on_stop_signal(on_signal);

  encoderd::EncoderConfig config;
  config.codec = "libx264";
  config.fps = fps;
  config.gop = gop;
  config.bitrate = bitrate;
  std::vector<Packet> packets;
  {
    encoderd::VideoEncoder enc(config, w, h, conduit::PixelFormat::kI420);
    auto layout = conduit::yuv420_layout(conduit::PixelFormat::kI420, w, h);
    std::vector<uint8_t> buf(layout.size());
    auto frame = conduit::Yuv420Frame::at(buf.data(), layout);
    auto sink = [&](const encoderd::EncodedPacket &p) {
      packets.push_back({std::string(reinterpret_cast<const char *>(p.data), p.size), p.header, p.keyframe});
    };
    for (int i = 0; i < frames; i++) {
      camerad::render_synthetic(camerad::CameraStream::Road, uint32_t(i), frame);
      enc.encode(frame, {uint32_t(i), 0, 0}, i % gop == 0, nullptr, sink);
    }
    enc.flush(sink);
  }
  av_log_set_level(AV_LOG_WARNING);
  cereal::PubMaster pm({"qRoadEncodeData"});
  printf("ready %zu packets\n", packets.size());
  fflush(stdout);

  const uint64_t period = 1'000'000'000ull / uint64_t(fps), start = conduit::mono_ns();
  uint64_t next = start;
  for (uint32_t n = 0; !g_stop && (!duration || conduit::mono_ns() - start < uint64_t(duration) * 1'000'000'000ull); n++) {
    timespec ts{time_t(next / 1'000'000'000ull), long(next % 1'000'000'000ull)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    const Packet &p = packets[n % packets.size()];
    cereal::MessageBuilder msg;
    auto d = msg.initEvent().initQRoadEncodeData();
    auto idx = d.initIdx();
    idx.setFrameId(n);
    idx.setType(cereal::EncodeIndex::Type::QCAMERA_H264);
    idx.setEncodeId(n);
    idx.setTimestampSof(conduit::mono_ns());
    idx.setTimestampEof(idx.getTimestampSof());
    idx.setFlags(p.keyframe ? cereal::EncodeIndex::FLAG_KEYFRAME : 0);
    idx.setLen(uint32_t(p.data.size()));
    idx.setWidth(uint32_t(w));
    idx.setHeight(uint32_t(h));
    d.setData(capnp::Data::Reader(reinterpret_cast<const uint8_t *>(p.data.data()), p.data.size()));
    if (p.keyframe) d.setHeader(capnp::Data::Reader(reinterpret_cast<const uint8_t *>(p.header.data()), p.header.size()));
    pm.send("qRoadEncodeData", msg);
    next += period;
  }
  return 0;
}
