// loggerd_loadgen: publishes the benchmark loads for loggerd and reports what it sent.
//   loggerd_loadgen realistic|stress SECONDS
// realistic: every logged service at its rate with typical sizes, road and wide
//            H.265 packets (~10 Mbit/s each, a keyframe per second) and qcamera.
// stress:    small testMessages as fast as one publisher can send.
// Prints one JSON line: sent messages and bytes, and loggerd's last loggerdState.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "cereal/messaging.h"
#include "common/clock.h"

namespace {

struct Load {
  cereal::PubMaster pm;
  std::vector<uint64_t> buf;
  uint64_t messages = 0, bytes = 0;
  explicit Load(const std::vector<std::string> &services) : pm(services) {}
  void send(const char *service, cereal::MessageBuilder &b) {
    size_t n = cereal::serialize(b, buf);
    pm.send(service, buf.data(), n);
    messages++;
    bytes += n;
  }
};

void fill(kj::ArrayPtr<uint8_t> out, std::mt19937_64 &rng) {
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    uint64_t v = rng();
    memcpy(out.begin() + i, &v, 8);
  }
}

void realistic(Load &load, double seconds) {
  std::mt19937_64 rng(1);
  const uint64_t start = conduit::mono_ns();
  uint64_t tick = 0;
  uint32_t frame = 0;
  while (conduit::mono_ns() - start < uint64_t(seconds * 1e9)) {
    // 100 Hz base tick.
    {
      cereal::MessageBuilder b;
      auto s = b.initEvent().initSensorEvents(4);
      for (int i = 0; i < 4; ++i) {
        s[i].setSensor(i);
        s[i].setTimestamp(conduit::mono_ns());
        auto v = s[i].initValues(3);
        for (int k = 0; k < 3; ++k) v.set(k, float(rng() % 1000) / 100.f);
      }
      load.send("sensorEvents", b);
    }
    {
      cereal::MessageBuilder b;
      auto c = b.initEvent().initCan(20);
      for (int i = 0; i < 20; ++i) {
        c[i].setAddress(0x100 + i);
        uint8_t d[8];
        for (auto &x : d) x = uint8_t(rng());
        c[i].setDat(kj::arrayPtr(d, 8));
      }
      load.send("can", b);
    }
    if (tick % 5 == 0) {  // 20 Hz: cameras, model, encoders
      bool key = frame % 20 == 0;
      for (const char *cam : {"roadCameraState", "wideRoadCameraState", "driverCameraState"}) {
        cereal::MessageBuilder b;
        auto ev = b.initEvent();
        auto f = std::string(cam) == "roadCameraState" ? ev.initRoadCameraState()
                 : std::string(cam) == "wideRoadCameraState" ? ev.initWideRoadCameraState() : ev.initDriverCameraState();
        f.setFrameId(frame);
        f.setTimestampEof(conduit::mono_ns());
        f.setSensor("synthetic");
        load.send(cam, b);
      }
      {
        cereal::MessageBuilder b;
        auto m = b.initEvent().initModelV2();
        m.setFrameId(frame);
        auto raw = m.initRawPredictions(16384);
        fill(raw, rng);
        load.send("modelV2", b);
      }
      struct { const char *service; size_t size; } streams[] = {
        {"roadEncodeData", key ? 250000u : 50000u}, {"wideRoadEncodeData", key ? 250000u : 50000u}, {"qRoadEncodeData", key ? 8000u : 1500u}};
      for (auto &s : streams) {
        cereal::MessageBuilder b;
        auto ev = b.initEvent();
        std::string name = s.service;
        auto ed = name == "roadEncodeData" ? ev.initRoadEncodeData() : name == "wideRoadEncodeData" ? ev.initWideRoadEncodeData() : ev.initQRoadEncodeData();
        auto idx = ed.initIdx();
        idx.setFrameId(frame);
        idx.setEncodeId(frame);
        idx.setSegmentNum(0);
        idx.setSegmentIdEncode(frame);
        idx.setFlags(key ? cereal::EncodeIndex::FLAG_KEYFRAME : 0);
        idx.setLen(uint32_t(s.size));
        // Annex B start codes and NAL headers, so packets pass as H.264/H.265 (qcamera.ts is muxed).
        if (key) {
          auto header = ed.initHeader(64);
          fill(header, rng);
          const uint8_t sps[5] = {0, 0, 0, 1, 0x67};
          memcpy(header.begin(), sps, sizeof(sps));
        }
        auto data = ed.initData(s.size);
        fill(data, rng);
        const uint8_t nal[5] = {0, 0, 0, 1, uint8_t(key ? 0x65 : 0x41)};
        memcpy(data.begin(), nal, sizeof(nal));
        load.send(s.service, b);
      }
      frame++;
    }
    if (tick % 10 == 0) {  // 10 Hz log lines
      cereal::MessageBuilder b;
      auto l = b.initEvent().initLogMessage();
      l.setProcessName("loadgen");
      l.setMessage("frame " + std::to_string(frame) + " processed, all nominal");
      load.send("logMessage", b);
    }
    if (tick % 25 == 0) {  // 4 Hz
      cereal::MessageBuilder b;
      b.initEvent().initLiveCalibration().initWarpMatrix(9);
      load.send("liveCalibration", b);
    }
    if (tick % 50 == 0) {  // 2 Hz
      cereal::MessageBuilder b;
      b.initEvent().initDeviceState().initCpuUsagePercent(2);
      load.send("deviceState", b);
    }
    tick++;
    uint64_t next = start + tick * 10'000'000ull;
    uint64_t now = conduit::mono_ns();
    if (next > now) std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
  }
}

void stress(Load &load, double seconds) {
  const uint64_t start = conduit::mono_ns();
  cereal::MessageBuilder b;
  auto t = b.initEvent().initTestMessage();
  auto p = t.initPayload(64);
  for (uint64_t seq = 0;; ++seq) {
    if ((seq & 255) == 0 && conduit::mono_ns() - start >= uint64_t(seconds * 1e9)) break;
    t.setSeq(seq);
    for (size_t i = 0; i < p.size(); ++i) p[i] = uint8_t(seq >> (i % 8) * 8) ^ uint8_t(i);
    t.setChecksum(seq * 2654435761u);
    load.send("testMessage", b);
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: loggerd_loadgen realistic|stress SECONDS\n");
    return 2;
  }
  std::string which = argv[1];
  double seconds = atof(argv[2]);
  msgq::SubOptions so;
  so.ring_size = cereal::service("loggerdState").ring_size;
  auto state = msgq::SubSocket::create("loggerdState", so);
  uint64_t t0 = conduit::mono_ns();
  std::unique_ptr<Load> load;
  if (which == "realistic") {
    load = std::make_unique<Load>(std::vector<std::string>{"sensorEvents", "can", "roadCameraState", "wideRoadCameraState",
        "driverCameraState", "modelV2", "roadEncodeData", "wideRoadEncodeData", "qRoadEncodeData", "logMessage",
        "liveCalibration", "deviceState"});
    realistic(*load, seconds);
  } else if (which == "stress") {
    load = std::make_unique<Load>(std::vector<std::string>{"testMessage"});
    stress(*load, seconds);
  } else {
    fprintf(stderr, "loggerd_loadgen: expected realistic or stress, found '%s'\n", which.c_str());
    return 2;
  }
  double elapsed = (conduit::mono_ns() - t0) * 1e-9;
  // Wait for a loggerdState published after everything was sent.
  uint64_t sent_done = conduit::mono_ns();
  uint64_t dropped = 0, written = 0, dropped_bytes = 0;
  msgq::Message m;
  while (conduit::mono_ns() - sent_done < 3'000'000'000ull) {
    if (!state->receive(m, 100)) continue;
    capnp::FlatArrayMessageReader r(kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word *>(m.data()), m.size() / 8));
    auto ev = r.getRoot<cereal::Event>();
    auto ls = ev.getLoggerdState();
    dropped = ls.getDroppedMessages();
    dropped_bytes = ls.getDroppedBytes();
    written = ls.getBytesWritten();
    if (ev.getLogMonoTime() > sent_done + 200'000'000ull) break;
  }
  printf("{\"messages\": %llu, \"bytes\": %llu, \"seconds\": %.4f, \"dropped\": %llu, \"dropped_bytes\": %llu, \"bytes_written\": %llu}\n",
         (unsigned long long)load->messages, (unsigned long long)load->bytes, elapsed, (unsigned long long)dropped,
         (unsigned long long)dropped_bytes, (unsigned long long)written);
  return 0;
}
