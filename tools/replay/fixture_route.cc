#include "tools/replay/fixture_route.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <zstd.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
}

#include "camerad/synthetic_scene.h"
#include "cereal/gen/log.capnp.h"
#include "cereal/gen/services.h"
#include "common/yuv420_av.h"
#include "tools/replay/log_file.h"

namespace fs = std::filesystem;

namespace replay {

namespace {

struct Packet {
  std::vector<uint8_t> data;
  bool key;
};

struct TimedEvent {
  uint64_t t;
  kj::Array<capnp::word> bytes;
  cereal::Event::Which which;
};

uint64_t frame_period(const FixtureOptions &o) { return 1'000'000'000ull / o.fps; }

std::vector<Packet> encode_segment(const FixtureOptions &o, uint32_t first_frame) {
  const AVCodec *codec = avcodec_find_encoder_by_name("libx265");
  if (!codec) throw std::runtime_error("fixture: libavcodec has no libx265 encoder");
  AVCodecContext *ctx = avcodec_alloc_context3(codec);
  ctx->width = o.width;
  ctx->height = o.height;
  ctx->time_base = {1, o.fps};
  ctx->framerate = {o.fps, 1};
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->gop_size = o.gop;
  ctx->max_b_frames = 0;
  av_opt_set(ctx->priv_data, "preset", "ultrafast", 0);
  av_opt_set(ctx->priv_data, "tune", "zerolatency", 0);
  av_opt_set(ctx->priv_data, "crf", std::to_string(o.crf).c_str(), 0);
  std::string params = "keyint=" + std::to_string(o.gop) + ":min-keyint=" + std::to_string(o.gop) +
                       ":scenecut=0:bframes=0:repeat-headers=1:log-level=error";
  av_opt_set(ctx->priv_data, "x265-params", params.c_str(), 0);
  if (avcodec_open2(ctx, codec, nullptr) < 0) {
    avcodec_free_context(&ctx);
    throw std::runtime_error("fixture: cannot open libx265");
  }

  AVFrame *frame = av_frame_alloc();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = o.width;
  frame->height = o.height;
  av_frame_get_buffer(frame, 64);

  std::vector<Packet> packets;
  AVPacket *pkt = av_packet_alloc();
  auto drain = [&] {
    while (avcodec_receive_packet(ctx, pkt) == 0) {
      packets.push_back({{pkt->data, pkt->data + pkt->size}, bool(pkt->flags & AV_PKT_FLAG_KEY)});
      av_packet_unref(pkt);
    }
  };
  for (int k = 0; k < o.frames_per_segment; ++k) {
    av_frame_make_writable(frame);
    // The synthetic scene is drawn straight into libx265's planar input.
    camerad::render_synthetic(camerad::CameraStream::Road, first_frame + k, conduit::av_frame_view(frame));
    frame->pts = k;
    if (k % o.gop == 0) frame->pict_type = AV_PICTURE_TYPE_I;
    else frame->pict_type = AV_PICTURE_TYPE_NONE;
    avcodec_send_frame(ctx, frame);
    drain();
  }
  avcodec_send_frame(ctx, nullptr);
  drain();
  av_packet_free(&pkt);
  av_frame_free(&frame);
  avcodec_free_context(&ctx);
  if (int(packets.size()) != o.frames_per_segment) {
    throw std::runtime_error("fixture: encoder produced " + std::to_string(packets.size()) + " packets for " +
                             std::to_string(o.frames_per_segment) + " frames");
  }
  return packets;
}

template <class Fill>
TimedEvent make_event(uint64_t t, Fill fill) {
  capnp::MallocMessageBuilder msg;
  auto event = msg.initRoot<cereal::Event>();
  event.setLogMonoTime(t);
  event.setValid(true);
  fill(event);
  return {t, capnp::messageToFlatArray(msg), event.which()};
}

void write_log(const std::string &path, const std::vector<TimedEvent> &events) {
  std::ofstream f(path, std::ios::binary);
  std::vector<char> raw;
  auto flush = [&] {
    if (raw.empty()) return;
    std::vector<char> out(ZSTD_compressBound(raw.size()));
    size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 3);
    if (ZSTD_isError(n)) throw std::runtime_error("fixture: zstd failed");
    f.write(out.data(), n);
    raw.clear();
  };
  for (const auto &e : events) {
    auto bytes = e.bytes.asChars();
    raw.insert(raw.end(), bytes.begin(), bytes.end());
    if (raw.size() > 4096) flush();  // a series of complete frames, as loggerd writes
  }
  flush();
  if (!f) throw std::runtime_error("fixture: cannot write " + path);
}

}  // namespace

uint64_t fixture_frame_time(const FixtureOptions &o, uint32_t frame_id) {
  return o.start_mono + frame_id * frame_period(o) + 3'000'000;
}

FixtureRoute write_fixture_route(const FixtureOptions &o) {
  if (o.width < 128 || (o.width | o.height) & 1 || o.fps <= 0 || o.frames_per_segment <= 0 || o.gop <= 0) {
    throw std::invalid_argument("fixture: bad options (need even size, width >= 128, positive fps/frames/gop)");
  }
  FixtureRoute route;
  route.name = o.route;
  route.start_mono = o.start_mono;
  const uint64_t period = frame_period(o), sensor_period = 1'000'000'000ull / o.sensor_hz;
  uint64_t sensor_j = 0;
  for (int s = 0; s < o.segments; ++s) {
    std::string dir = o.dir + "/" + o.route + "--" + std::to_string(s);
    fs::create_directories(dir);
    route.segment_dirs.push_back(dir);
    const uint32_t first_frame = uint32_t(s * o.frames_per_segment);
    const uint64_t seg_start = o.start_mono + first_frame * period;
    const uint64_t seg_end = seg_start + o.frames_per_segment * period;

    std::vector<Packet> packets;
    if (o.video) {
      packets = encode_segment(o, first_frame);
      std::ofstream v(dir + "/fcamera.hevc", std::ios::binary);
      for (const auto &p : packets) v.write(reinterpret_cast<const char *>(p.data.data()), p.data.size());
    }

    std::vector<TimedEvent> events;
    events.push_back(make_event(seg_start, [&](cereal::Event::Builder e) {
      auto init = e.initInitData();
      init.setVersion("fixture");
      init.setRouteName(o.route);
      init.setDeviceType("fixture");
    }));
    events.push_back(make_event(seg_start, [&](cereal::Event::Builder e) {
      auto st = e.initSentinel();
      st.setType(s == 0 ? cereal::Sentinel::SentinelType::START_OF_ROUTE : cereal::Sentinel::SentinelType::START_OF_SEGMENT);
      st.setSegmentNum(s);
    }));
    for (int k = 0; k < o.frames_per_segment; ++k) {
      uint32_t f = first_frame + k;
      uint64_t t = o.start_mono + f * period;
      events.push_back(make_event(t + 1'000'000, [&](cereal::Event::Builder e) {
        auto fd = e.initRoadCameraState();
        fd.setFrameId(f);
        fd.setTimestampSof(t);
        fd.setTimestampEof(t + 500'000);
        fd.setSensor("synthetic");
        fd.setSource("synthetic");
        fd.setWidth(o.width);
        fd.setHeight(o.height);
      }));
      if (!o.video) continue;
      events.push_back(make_event(fixture_frame_time(o, f), [&](cereal::Event::Builder e) {
        auto idx = e.initRoadEncodeIdx();
        idx.setFrameId(f);
        idx.setType(cereal::EncodeIndex::Type::FULL_H_E_V_C);
        idx.setEncodeId(f);
        idx.setSegmentNum(s);
        idx.setSegmentId(k);
        idx.setSegmentIdEncode(k);
        idx.setTimestampSof(t);
        idx.setTimestampEof(t + 500'000);
        idx.setFlags(packets[k].key ? cereal::EncodeIndex::FLAG_KEYFRAME : 0);
        idx.setLen(packets[k].data.size());
        idx.setWidth(o.width);
        idx.setHeight(o.height);
      }));
    }
    for (; o.start_mono + sensor_j * sensor_period < seg_end; ++sensor_j) {
      uint64_t j = sensor_j, t = o.start_mono + j * sensor_period;
      events.push_back(make_event(t, [&](cereal::Event::Builder e) {
        auto list = e.initSensorEvents(1);
        list[0].setSensor(1);
        list[0].setType(1);
        list[0].setTimestamp(t);
        list[0].setSource("fixture");
        auto values = list[0].initValues(2);
        values.set(0, float(j));
        values.set(1, std::sin(j / 10.0f));
      }));
      if (j % 2 == 0) {
        events.push_back(make_event(t + 100'000, [&](cereal::Event::Builder e) {
          auto can = e.initCan(1);
          can[0].setAddress(0x100 + j % 4);
          uint8_t dat[4] = {uint8_t(j), uint8_t(j >> 8), uint8_t(j >> 16), uint8_t(j >> 24)};
          can[0].setDat(kj::arrayPtr(dat, 4));
        }));
      }
      if (j % (o.sensor_hz / 2) == 0) {
        events.push_back(make_event(t + 200'000, [&](cereal::Event::Builder e) {
          auto ds = e.initDeviceState();
          ds.setMemoryUsagePercent(float(j % 100));
        }));
      }
    }
    events.push_back(make_event(seg_end, [&](cereal::Event::Builder e) {
      auto st = e.initSentinel();
      st.setType(s + 1 == o.segments ? cereal::Sentinel::SentinelType::END_OF_ROUTE
                                      : cereal::Sentinel::SentinelType::END_OF_SEGMENT);
      st.setSegmentNum(s);
    }));
    std::stable_sort(events.begin(), events.end(), [](const TimedEvent &a, const TimedEvent &b) { return a.t < b.t; });
    write_log(dir + "/rlog.zst", events);

    // qlog: message i of each service when i % decimation == 0.
    std::map<cereal::Event::Which, uint64_t> counts;
    std::vector<TimedEvent> qlog;
    for (auto &e : events) {
      std::string name(service_name(e.which));
      const cereal::Service *svc = cereal::find_service(name);
      uint64_t i = counts[e.which]++;
      if (svc && svc->decimation > 0 && i % svc->decimation == 0) {
        qlog.push_back({e.t, kj::heapArray<capnp::word>(e.bytes.asPtr()), e.which});
      }
    }
    write_log(dir + "/qlog.zst", qlog);
    route.end_mono = seg_end;
  }
  return route;
}

}  // namespace replay
