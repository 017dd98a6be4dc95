// camerad + encoderd as processes: frames -> VisionIPC -> encoderd -> EncodeData
// on the bus -> decoded here and compared with the synthetic scene.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "camerad/synthetic_scene.h"
#include "common/prefix.h"
#include "cereal/tests/collect.h"
#include "common/testing/child.h"
#include "common/testing/prefix.h"
#include "common/testing/video.h"

namespace {

struct Packet {
  uint32_t frame_id, encode_id, segment_num, segment_id, dropped;
  bool keyframe;
  std::vector<uint8_t> data;
  size_t header_size;
  uint32_t width, height;
};

Packet to_packet(cereal::EncodeData::Reader d) {
  auto idx = d.getIdx();
  return {idx.getFrameId(),
          idx.getEncodeId(),
          uint32_t(idx.getSegmentNum()),
          idx.getSegmentId(),
          idx.getDroppedFrames(),
          (idx.getFlags() & cereal::EncodeIndex::FLAG_KEYFRAME) != 0,
          {d.getData().begin(), d.getData().end()},
          d.getHeader().size(),
          idx.getWidth(),
          idx.getHeight()};
}

const int kW = 640, kH = 384, kSegment = 10;

}  // namespace

TEST(EncoderdProcess, SegmentsKeyframesDropsAndCameradRestart) {
  testutil::ScopedPrefix prefix("encproc");
  auto road = msgq::SubSocket::create("roadEncodeData", {false, 16 << 20});
  auto qcam = msgq::SubSocket::create("qRoadEncodeData", {false, 4 << 20});
  std::vector<Packet> road_pkts, qcam_pkts;
  auto on_road = [&](cereal::Event::Reader ev) {
    if (ev.which() == cereal::Event::ROAD_ENCODE_DATA) road_pkts.push_back(to_packet(ev.getRoadEncodeData()));
  };
  auto drain_qcam = [&] {
    testutil::collect(*qcam, 0.2, [&](cereal::Event::Reader ev) {
      if (ev.which() == cereal::Event::Q_ROAD_ENCODE_DATA) qcam_pkts.push_back(to_packet(ev.getQRoadEncodeData()));
    }, [] { return false; });
  };

  testutil::Child encoderd({"build/bin/encoderd", "--cameras", "road", "--segment-frames", std::to_string(kSegment)});
  std::string size = std::to_string(kW) + "x" + std::to_string(kH);
  {
    testutil::Child camerad({"build/bin/camerad", "--cameras", "road", "--size", size});
    ASSERT_TRUE(testutil::collect(*road, 90, on_road, [&] { return road_pkts.size() >= 3 * kSegment; }))
        << "got " << road_pkts.size() << " road packets";
    camerad.signal(SIGKILL);  // a crash: no goodbye
    camerad.wait(10);
  }
  size_t first_run = road_pkts.size();
  drain_qcam();
  uint32_t max_segment_before = 0;
  for (const Packet &p : road_pkts) max_segment_before = std::max(max_segment_before, p.segment_num);

  // camerad comes back with I420 buffers (the pipeline's layout): encoderd
  // reopens its encoders for the new layout and lends the planes to libx265.
  testutil::Child camerad({"build/bin/camerad", "--cameras", "road", "--size", size, "--pixel-format", "yuv420p"});
  ASSERT_TRUE(testutil::collect(*road, 90, on_road, [&] {
    return road_pkts.size() >= first_run + 2 * kSegment && road_pkts.back().segment_num > max_segment_before;
  })) << "encoderd did not resume after camerad restarted";

  // Stop encoderd for a while: camerad must keep going; encoderd drops and says so.
  auto state = msgq::SubSocket::create("roadCameraState");
  encoderd.signal(SIGSTOP);
  uint32_t frames_while_stopped = 0;
  testutil::collect(*state, 1.5, [&](cereal::Event::Reader) { frames_while_stopped++; }, [] { return false; });
  encoderd.signal(SIGCONT);
  uint32_t dropped_before = road_pkts.back().dropped;
  EXPECT_TRUE(testutil::collect(*road, 60, on_road, [&] { return road_pkts.back().dropped > dropped_before; }))
      << "encoderd was stopped 1.5 s with 8 buffers; it must report drops";
  EXPECT_GT(frames_while_stopped, 0u) << "camerad must not block on a stopped encoderd";

  camerad.signal(SIGTERM);
  EXPECT_EQ(camerad.wait(20), 0);
  encoderd.signal(SIGTERM);
  EXPECT_EQ(encoderd.wait(30), 0) << "encoderd must flush and exit 0 on SIGTERM";
  testutil::collect(*road, 0.3, on_road, [] { return false; });
  drain_qcam();

  // Runs: frame ids restart when camerad restarts.
  std::vector<std::vector<const Packet *>> runs(1);
  for (size_t i = 0; i < road_pkts.size(); i++) {
    const Packet &p = road_pkts[i];
    EXPECT_EQ(p.encode_id, i) << "encode ids count every packet";
    if (i > 0 && p.frame_id <= road_pkts[i - 1].frame_id) runs.emplace_back();
    runs.back().push_back(&p);
  }
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_GT(runs[1].front()->segment_num, runs[0].back()->segment_num);
  EXPECT_TRUE(runs[1].front()->keyframe);

  uint32_t dropped = 0;
  std::map<uint32_t, std::vector<const Packet *>> segments;
  for (auto &run : runs) {
    for (size_t i = 0; i < run.size(); i++) {
      if (i > 0) dropped += run[i]->frame_id - run[i - 1]->frame_id - 1;
      EXPECT_EQ(run[i]->dropped, dropped) << "droppedFrames counts every hole in the frame ids";
      segments[run[i]->segment_num].push_back(run[i]);
    }
  }
  std::set<uint32_t> first_or_last;
  for (auto &run : runs) first_or_last.insert({run.front()->segment_num, run.back()->segment_num});
  int complete = 0;
  for (auto &[num, pkts] : segments) {
    EXPECT_TRUE(pkts.front()->keyframe) << "segment " << num << " must start with a keyframe";
    EXPECT_GT(pkts.front()->header_size, 0u);
    for (size_t i = 1; i < pkts.size(); i++) {
      EXPECT_FALSE(pkts[i]->keyframe) << "gop 20 > segment: keyframes only at segment starts";
      EXPECT_EQ(pkts[i]->frame_id - pkts[i]->segment_id, pkts[0]->frame_id - pkts[0]->segment_id);
    }
    if (first_or_last.count(num)) continue;
    complete++;
    // Exactly kSegment frames: every frame id of the segment is a packet or a counted drop.
    uint32_t holes = pkts.back()->dropped - pkts.front()->dropped;
    EXPECT_EQ(pkts.size() + holes + pkts.front()->segment_id + (kSegment - 1 - pkts.back()->segment_id), size_t(kSegment))
        << "segment " << num;
    if (holes == 0 && pkts.front()->segment_id == 0) {
      EXPECT_EQ(pkts.size(), size_t(kSegment));
    }
  }
  EXPECT_GE(complete, 2);

  // A segment of each run (NV12 buffers, then I420) decodes on its own and
  // matches the synthetic frames.
  for (uint32_t num : {runs[0].front()->segment_num + 1, runs[1].front()->segment_num}) {
    const std::vector<const Packet *> &seg = segments[num];
    testutil::Decoder dec(AV_CODEC_ID_HEVC);
    std::vector<testutil::Picture> pics;
    for (const Packet *p : seg) {
      for (auto &pic : dec.decode(p->data.data(), p->data.size())) pics.push_back(std::move(pic));
    }
    for (auto &pic : dec.decode(nullptr, 0)) pics.push_back(std::move(pic));
    ASSERT_EQ(pics.size(), seg.size()) << "segment " << num;
    testutil::Image ref(kW, kH);
    for (size_t i = 0; i < pics.size(); i++) {
      ASSERT_EQ(pics[i].width, kW);
      auto stamp = camerad::read_stamp(pics[i].y.data(), kW, kW, kH);
      ASSERT_TRUE(stamp.has_value());
      EXPECT_EQ(stamp->frame_id, seg[i]->frame_id);
      camerad::render_synthetic(camerad::CameraStream::Road, stamp->frame_id, ref.frame);
      EXPECT_GE(testutil::psnr_vs(pics[i], ref.frame), 35.0) << "segment " << num;
    }
  }

  // qcamera: H.264 at 526x330, decodable.
  ASSERT_GE(qcam_pkts.size(), size_t(kSegment));
  EXPECT_TRUE(qcam_pkts.front().keyframe);
  testutil::Decoder qdec(AV_CODEC_ID_H264);
  size_t qpics = 0;
  for (const Packet &p : qcam_pkts) {
    EXPECT_EQ(p.width, 526u);
    EXPECT_EQ(p.height, 330u);
    for (auto &pic : qdec.decode(p.data.data(), p.data.size())) {
      EXPECT_EQ(pic.width, 526);
      EXPECT_EQ(pic.height, 330);
      qpics++;
    }
  }
  qpics += qdec.decode(nullptr, 0).size();
  EXPECT_EQ(qpics, qcam_pkts.size());
}
