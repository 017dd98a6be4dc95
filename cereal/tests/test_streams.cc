// The stream table's Event accessors reach the member each row names.
#include <gtest/gtest.h>

#include <stdexcept>

#include "cereal/messaging.h"
#include "cereal/streams.h"

namespace {

using cereal::Camera;
using cereal::VideoId;

TEST(Streams, ParseCameraList) {
  EXPECT_EQ(cereal::parse_camera_list("driver,road"), (std::vector<Camera>{Camera::Driver, Camera::Road}));
  EXPECT_THROW(cereal::parse_camera_list("road,front"), std::invalid_argument);
  EXPECT_THROW(cereal::parse_camera_list("road,road"), std::invalid_argument);
  EXPECT_THROW(cereal::parse_camera_list(""), std::invalid_argument);
}

TEST(Streams, AccessorsReachTheRowsMember) {
  for (const cereal::Video &v : cereal::kVideos) {
    cereal::MessageBuilder msg;
    auto ev = msg.initEvent();
    cereal::init_encode_data(ev, v).initIdx().setFrameId(uint32_t(v.id) + 7);
    EXPECT_EQ(ev.asReader().which(), v.data_which) << v.name;
    EXPECT_EQ(cereal::encode_data(ev.asReader(), v).getIdx().getFrameId(), uint32_t(v.id) + 7);
    const cereal::Video &other = cereal::video(v.id == VideoId::Road ? VideoId::Wide : VideoId::Road);
    EXPECT_THROW(cereal::encode_data(ev.asReader(), other), std::invalid_argument) << v.name;

    cereal::MessageBuilder idx_msg;
    auto idx_ev = idx_msg.initEvent();
    cereal::set_encode_idx(idx_ev, v, cereal::encode_data(ev.asReader(), v).getIdx());
    EXPECT_EQ(idx_ev.asReader().which(), v.idx_which) << v.name;
    EXPECT_EQ(cereal::encode_idx(idx_ev.asReader(), v).getFrameId(), uint32_t(v.id) + 7);
    cereal::init_encode_idx(idx_ev, v).setFrameId(3);
    EXPECT_EQ(cereal::encode_idx(idx_ev.asReader(), v).getFrameId(), 3u);
  }
  for (const cereal::CameraInfo &c : cereal::kCameras) {
    cereal::MessageBuilder msg;
    auto ev = msg.initEvent();
    cereal::init_camera_state(ev, c.id).setFrameId(9);
    EXPECT_EQ(ev.asReader().which(), c.state_which) << c.name;
  }
}

}  // namespace
