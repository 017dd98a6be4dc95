#include <gtest/gtest.h>

#include <map>

#include "camerad/synthetic_scene.h"
#include "encoderd/stream_encoder.h"
#include "encoderd/video_encoder.h"
#include "common/testing/video.h"

using camerad::CameraStream;
using encoderd::EncodedFrame;
using encoderd::EncodedPacket;
using encoderd::EncoderConfig;
using testutil::Image;

namespace {

struct Packet {
  std::vector<uint8_t> data;
  bool keyframe;
  uint32_t frame_id;
  std::string header;
};

EncoderConfig small_hevc() {
  EncoderConfig c;
  c.codec = "libx265";
  c.bitrate = 2'000'000;
  return c;
}

}  // namespace

// The road stream at full size and default settings survives encode + decode
// at >= 35 dB, every frame, in order, each identified by its stamp; from NV12
// and from I420 buffers alike.
class HevcDefaultSettings : public ::testing::TestWithParam<conduit::PixelFormat> {};

TEST_P(HevcDefaultSettings, PsnrAbove35dB) {
  const int w = 1928, h = 1208, frames = 24;
  const conduit::PixelFormat format = GetParam();
  Image img(w, h, format);
  encoderd::VideoEncoder enc(EncoderConfig{}, w, h, format);
  EXPECT_EQ(enc.codec_name(), "libx265");  // no NVENC GPU here
  std::vector<Packet> packets;
  int released = 0;
  auto sink = [&](const EncodedPacket &p) {
    packets.push_back({{p.data, p.data + p.size}, p.keyframe, p.meta.frame_id, p.header});
  };
  for (int i = 0; i < frames; i++) {
    camerad::render_synthetic(CameraStream::Road, 500 + i, img.frame);
    enc.encode(img.frame, {uint32_t(500 + i), 0, 0}, i == 0, [&] { released++; }, sink);
    EXPECT_EQ(released, i + 1) << "libx265 copies its input: the buffer must be free when encode() returns";
  }
  enc.flush(sink);
  ASSERT_EQ(packets.size(), size_t(frames));
  EXPECT_TRUE(packets[0].keyframe);
  EXPECT_FALSE(packets[0].header.empty());
  testutil::Decoder dec(AV_CODEC_ID_HEVC);
  std::vector<testutil::Picture> pics;
  for (auto &p : packets) {
    for (auto &pic : dec.decode(p.data.data(), p.data.size())) pics.push_back(std::move(pic));
  }
  for (auto &pic : dec.decode(nullptr, 0)) pics.push_back(std::move(pic));
  ASSERT_EQ(pics.size(), size_t(frames));
  Image ref(w, h);
  double worst = 99;
  for (int i = 0; i < frames; i++) {
    ASSERT_EQ(pics[i].width, w);
    ASSERT_EQ(pics[i].height, h);
    auto stamp = camerad::read_stamp(pics[i].y.data(), w, w, h);
    ASSERT_TRUE(stamp.has_value()) << "frame " << i;
    EXPECT_EQ(stamp->frame_id, uint32_t(500 + i));
    EXPECT_EQ(packets[i].frame_id, uint32_t(500 + i));
    camerad::render_synthetic(CameraStream::Road, stamp->frame_id, ref.frame);
    worst = std::min(worst, testutil::psnr_vs(pics[i], ref.frame));
  }
  EXPECT_GE(worst, 35.0);
  // libx265 takes planar yuv420p: I420 goes in as it is; from NV12, Y goes in
  // place and U/V are split (1/3 of the bytes).
  EXPECT_STREQ(enc.input_pixel_format(), "yuv420p");
  EXPECT_EQ(enc.copied_bytes(), format == conduit::PixelFormat::kI420 ? 0 : uint64_t(w) * h / 2 * frames);
}

INSTANTIATE_TEST_SUITE_P(Layouts, HevcDefaultSettings,
                         ::testing::Values(conduit::PixelFormat::kNv12, conduit::PixelFormat::kI420),
                         [](const auto &info) { return std::string(conduit::pixel_format_name(info.param)); });

// A frame in another layout than the encoder was opened for is refused, and released.
TEST(VideoEncoder, RefusesAFrameOfAnotherLayout) {
  Image nv12(320, 192);
  encoderd::VideoEncoder enc(EncoderConfig{}, 320, 192, conduit::PixelFormat::kI420);
  int released = 0;
  EXPECT_THROW(enc.encode(nv12.frame, {}, false, [&] { released++; }, [](const EncodedPacket &) {}),
               std::invalid_argument);
  EXPECT_EQ(released, 1);
}

// qcamera from I420 buffers: scaled by libswscale straight from the three planes.
TEST(VideoEncoder, ScalesFromI420) {
  const int w = 640, h = 384;
  Image img(w, h, conduit::PixelFormat::kI420);
  EncoderConfig cfg;
  cfg.codec = "libx264";
  cfg.width = 320;
  cfg.height = 192;
  encoderd::VideoEncoder enc(cfg, w, h, conduit::PixelFormat::kI420);
  testutil::Decoder dec(AV_CODEC_ID_H264);
  std::vector<testutil::Picture> pics;
  auto sink = [&](const EncodedPacket &p) {
    for (auto &pic : dec.decode(p.data, p.size)) pics.push_back(std::move(pic));
  };
  for (int i = 0; i < 5; i++) {
    camerad::render_synthetic(CameraStream::Road, i, img.frame);
    enc.encode(img.frame, {uint32_t(i), 0, 0}, i == 0, nullptr, sink);
  }
  enc.flush(sink);
  for (auto &pic : dec.decode(nullptr, 0)) pics.push_back(std::move(pic));
  ASSERT_EQ(pics.size(), 5u);
  auto stamp = camerad::read_stamp(pics[4].y.data(), 320, 320, 192);
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->frame_id, 4u);
}

// An encoder that takes NV12 (libx264) reads the caller's buffer in place.
TEST(VideoEncoder, Nv12EncoderCopiesNothing) {
  const int w = 640, h = 384;
  Image img(w, h);
  EncoderConfig cfg;
  cfg.codec = "libx264";
  cfg.bitrate = 2'000'000;
  encoderd::VideoEncoder enc(cfg, w, h);
  EXPECT_STREQ(enc.input_pixel_format(), "nv12");
  int released = 0, packets = 0;
  for (int i = 0; i < 10; i++) {
    camerad::render_synthetic(CameraStream::Wide, i, img.frame);
    enc.encode(img.frame, {uint32_t(i), 0, 0}, i == 0, [&] { released++; }, [&](const EncodedPacket &) { packets++; });
  }
  enc.flush([&](const EncodedPacket &) { packets++; });
  EXPECT_EQ(released, 10);
  EXPECT_EQ(packets, 10);
  EXPECT_EQ(enc.copied_bytes(), 0u);
}

// qcamera: full-size NV12 in, 526x330 H.264 out, decodable at that size.
TEST(VideoEncoder, QcameraH264DecodesAtItsSize) {
  const int w = 1928, h = 1208;
  Image img(w, h);
  EncoderConfig cfg;
  cfg.codec = "libx264";
  cfg.width = 526;
  cfg.height = 330;
  cfg.bitrate = 256'000;
  encoderd::VideoEncoder enc(cfg, w, h);
  EXPECT_TRUE(enc.scales());
  testutil::Decoder dec(AV_CODEC_ID_H264);
  std::vector<testutil::Picture> pics;
  auto sink = [&](const EncodedPacket &p) {
    for (auto &pic : dec.decode(p.data, p.size)) pics.push_back(std::move(pic));
  };
  int released = 0;
  for (int i = 0; i < 10; i++) {
    camerad::render_synthetic(CameraStream::Road, i, img.frame);
    enc.encode(img.frame, {uint32_t(i), 0, 0}, i == 0, [&] { released++; }, sink);
  }
  enc.flush(sink);
  for (auto &pic : dec.decode(nullptr, 0)) pics.push_back(std::move(pic));
  EXPECT_EQ(released, 10);
  ASSERT_EQ(pics.size(), 10u);
  for (auto &p : pics) {
    EXPECT_EQ(p.width, 526);
    EXPECT_EQ(p.height, 330);
  }
  auto stamp = camerad::read_stamp(pics[9].y.data(), 526, 526, 330);
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->frame_id, 9u);
}

TEST(VideoEncoder, BadInputIsAClearError) {
  try {
    EncoderConfig cfg;
    cfg.codec = "no_such_codec";
    encoderd::VideoEncoder enc(cfg, 640, 384);
    FAIL() << "expected an error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("no encoder named 'no_such_codec'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(encoderd::VideoEncoder(small_hevc(), 641, 384), std::invalid_argument);
  EncoderConfig bad_params = small_hevc();
  bad_params.x265_params = "no-such-x265-option=1";
  EXPECT_THROW(encoderd::VideoEncoder(bad_params, 640, 384), std::runtime_error);

  encoderd::VideoEncoder enc(small_hevc(), 640, 384);
  Image wrong(320, 192);
  int released = 0;
  try {
    enc.encode(wrong.frame, {}, false, [&] { released++; }, [](const EncodedPacket &) {});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("frame is 320x192 nv12, expected 640x384 nv12"), std::string::npos) << e.what();
  }
  EXPECT_EQ(released, 1) << "a rejected frame is still released";
}

TEST(ParameterSets, FoundOnlyAtTheStartOfKeyframes) {
  const uint8_t hevc[] = {0, 0, 0, 1, 0x40, 1, 0xaa,   // VPS
                          0, 0, 0, 1, 0x42, 1, 0xbb,   // SPS
                          0, 0, 1, 0x44, 1, 0xcc,      // PPS
                          0, 0, 0, 1, 0x26, 1, 0xdd};  // IDR slice
  std::string ps = encoderd::parameter_sets(hevc, sizeof hevc, true);
  EXPECT_EQ(ps, std::string(reinterpret_cast<const char *>(hevc), 20));
  const uint8_t slice_only[] = {0, 0, 0, 1, 0x02, 1, 0xdd};
  EXPECT_TRUE(encoderd::parameter_sets(slice_only, sizeof slice_only, true).empty());
}

namespace {
struct Collected {
  std::vector<EncodedFrame> frames;
  std::vector<std::vector<uint8_t>> data;
  std::vector<bool> has_header;
};
}  // namespace

// Segments are counted in frames: every segment holds exactly N frames, starts
// with a keyframe, and decodes on its own.
TEST(StreamEncoder, ExactFramesPerSegmentAndKeyframeAtEachStart) {
  const int w = 640, h = 384, n = 8;
  encoderd::SegmentClock clock(n);
  Collected got;
  EncoderConfig cfg = small_hevc();
  cfg.gop = 1000;  // only segment starts make keyframes
  encoderd::StreamEncoder se(cfg, w, h, conduit::PixelFormat::kNv12, clock, [&](const EncodedFrame &f) {
    got.frames.push_back(f);
    got.data.emplace_back(f.data, f.data + f.size);
    got.has_header.push_back(!f.header->empty());
  });
  Image img(w, h);
  int released = 0;
  const uint32_t first = 1000;
  for (uint32_t i = 0; i < 3 * n + 3; i++) {
    camerad::render_synthetic(CameraStream::Road, first + i, img.frame);
    se.push(img.frame, {first + i, 10 * i, 10 * i + 5}, 7, [&] { released++; });
  }
  se.flush();
  EXPECT_EQ(released, 3 * n + 3);
  ASSERT_EQ(got.frames.size(), size_t(3 * n + 3));
  std::map<uint32_t, int> per_segment;
  for (size_t i = 0; i < got.frames.size(); i++) {
    const EncodedFrame &f = got.frames[i];
    EXPECT_EQ(f.frame_id, first + i);
    EXPECT_EQ(f.encode_id, i);
    EXPECT_EQ(f.segment_num, i / n);
    EXPECT_EQ(f.segment_id, i % n);
    EXPECT_EQ(f.segment_id_encode, i % n);
    EXPECT_EQ(f.keyframe, i % n == 0) << "packet " << i;
    EXPECT_EQ(f.keyframe, got.has_header[i]);
    EXPECT_EQ(f.timestamp_eof, 10 * i + 5);
    EXPECT_EQ(f.dropped_frames, 0u);
    per_segment[f.segment_num]++;
  }
  EXPECT_EQ(per_segment[0], n);
  EXPECT_EQ(per_segment[1], n);
  EXPECT_EQ(per_segment[2], n);
  EXPECT_EQ(per_segment[3], 3);
  // Segment 2 decodes with a fresh decoder.
  testutil::Decoder dec(AV_CODEC_ID_HEVC);
  int decoded = 0;
  for (size_t i = 2 * n; i < 3 * n; i++) decoded += int(dec.decode(got.data[i].data(), got.data[i].size()).size());
  decoded += int(dec.decode(nullptr, 0).size());
  EXPECT_EQ(decoded, n);
}

// Holes in the frame ids are counted as drops and do not shift segment
// boundaries; a new camerad run (epoch) starts the next segment with a keyframe.
TEST(StreamEncoder, DropsAreCountedAndRestartsStartANewSegment) {
  const int w = 320, h = 192, n = 10;
  encoderd::SegmentClock clock(n);
  std::vector<EncodedFrame> got;
  encoderd::StreamEncoder se(small_hevc(), w, h, conduit::PixelFormat::kNv12, clock, [&](const EncodedFrame &f) { got.push_back(f); });
  Image img(w, h);
  auto push = [&](uint32_t id, uint64_t epoch) {
    camerad::render_synthetic(CameraStream::Driver, id, img.frame);
    se.push(img.frame, {id, 0, 0}, epoch, nullptr);
  };
  for (uint32_t id : {0u, 1u, 2u, 5u, 6u, 9u, 10u, 11u}) push(id, 1);
  push(11, 1);  // repeated: ignored
  for (uint32_t id : {3u, 4u, 5u}) push(id, 2);  // camerad restarted
  se.flush();
  ASSERT_EQ(got.size(), 11u);
  EXPECT_EQ(got[3].frame_id, 5u);
  EXPECT_EQ(got[3].dropped_frames, 2u);
  EXPECT_EQ(got[5].dropped_frames, 4u);
  EXPECT_EQ(got[5].pts, 5);
  EXPECT_EQ(got[6].segment_num, 1u);
  EXPECT_EQ(got[6].segment_id, 0u);
  EXPECT_TRUE(got[6].keyframe);
  EXPECT_EQ(got[7].segment_id, 1u);
  EXPECT_EQ(got[8].segment_num, 2u) << "first segment of the new run";
  EXPECT_EQ(got[8].segment_id, 0u);
  EXPECT_TRUE(got[8].keyframe);
  EXPECT_EQ(got[8].dropped_frames, 4u) << "a new run starts no hole";
  EXPECT_EQ(got[10].segment_id, 2u);
  EXPECT_EQ(got[10].encode_id, 10u);
}

// camerad back with I420 buffers instead of NV12: the codec is reopened for
// them, the first frame is a keyframe, and packet numbering runs on.
TEST(StreamEncoder, ReopensForANewLayoutAndNumberingRunsOn) {
  const int w = 320, h = 192;
  encoderd::SegmentClock clock(100);
  std::vector<EncodedFrame> got;
  encoderd::StreamEncoder se(small_hevc(), w, h, conduit::PixelFormat::kNv12, clock,
                             [&](const EncodedFrame &f) { got.push_back(f); });
  Image nv12(w, h), i420(w, h, conduit::PixelFormat::kI420);
  for (uint32_t id = 0; id < 3; id++) se.push(nv12.frame, {id, 0, 0}, 1, nullptr);
  EXPECT_FALSE(se.accepts(i420.frame));
  for (uint32_t id = 0; id < 3; id++) se.push(i420.frame, {id, 0, 0}, 2, nullptr);
  EXPECT_TRUE(se.accepts(i420.frame));
  EXPECT_EQ(se.encoder().input_format(), conduit::PixelFormat::kI420);
  EXPECT_EQ(se.encoder().copied_bytes(), 0u) << "I420 reaches libx265 without a copy";
  se.flush();
  ASSERT_EQ(got.size(), 6u);
  for (uint32_t i = 0; i < 6; i++) EXPECT_EQ(got[i].encode_id, i);
  EXPECT_TRUE(got[3].keyframe);
  EXPECT_EQ(got[3].frame_id, 0u);
}

TEST(SegmentClock, StreamsOfOneRunShareBoundaries) {
  encoderd::SegmentClock clock(5);
  auto a = clock.locate(100, 1);
  auto b = clock.locate(103, 1);
  auto c = clock.locate(107, 1);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->segment, 0u);
  EXPECT_EQ(b->index, 3u);
  EXPECT_EQ(c->segment, 1u);
  EXPECT_EQ(c->index, 2u);
  EXPECT_FALSE(clock.locate(99, 1).has_value());
  auto d = clock.locate(0, 2);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->segment, 2u);
  EXPECT_THROW(encoderd::SegmentClock(0), std::invalid_argument);
}
