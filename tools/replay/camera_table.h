#pragma once
// The video streams of a segment: which EncodeIndex service indexes which file,
// and the VisionIPC stream replay serves it on (server "camerad", as camerad).
#include <array>

#include "cereal/gen/log.capnp.h"
#include "visionipc/visionipc.h"

namespace replay {

struct CameraVideo {
  const char *name;                 // "road", "wide", "driver", "qcam"
  cereal::Event::Which encode_idx;  // the index messages of this video
  const char *file;                 // in the segment directory
  VisionStreamType stream;          // served on
};

enum CameraSlot { kRoad = 0, kWide, kDriver, kQcam, kCameraSlots };

inline constexpr std::array<CameraVideo, kCameraSlots> kCameraVideos = {{
    {"road", cereal::Event::ROAD_ENCODE_IDX, "fcamera.hevc", VISION_STREAM_ROAD},
    {"wide", cereal::Event::WIDE_ROAD_ENCODE_IDX, "ecamera.hevc", VISION_STREAM_WIDE_ROAD},
    {"driver", cereal::Event::DRIVER_ENCODE_IDX, "dcamera.hevc", VISION_STREAM_DRIVER},
    // The small H.264 stream stands in for the road camera with --qcam.
    {"qcam", cereal::Event::Q_ROAD_ENCODE_IDX, "qcamera.ts", VISION_STREAM_ROAD},
}};

}  // namespace replay
