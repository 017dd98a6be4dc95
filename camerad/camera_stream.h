#pragma once
// camerad's cameras are the rows of the stream table (cereal/streams.py):
// road (narrow, forward), wide (forward, wide angle) and driver (cabin).
#include "cereal/streams.h"

namespace camerad {

using CameraStream = cereal::Camera;
using cereal::camera_info;
using cereal::CameraInfo;
using cereal::parse_camera_list;
constexpr int kCameraStreamCount = int(cereal::kCameras.size());

}  // namespace camerad
