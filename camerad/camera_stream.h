#pragma once
// The cameras conduit knows: road (narrow, forward), wide (forward, wide angle)
// and driver (cabin). Each has the names other processes use for it.
#include <string>
#include <vector>

#include "visionipc/visionipc.h"

namespace camerad {

enum class CameraStream { Road = 0, Wide = 1, Driver = 2 };
constexpr int kCameraStreamCount = 3;

struct CameraInfo {
  CameraStream stream;
  const char *name;          // "road", "wide", "driver" (command lines, VisionIPC stream names)
  const char *state_topic;   // FrameData service: "roadCameraState", ...
  VisionStreamType vision_stream;
};

const CameraInfo &camera_info(CameraStream s);

// Parses "road,wide,driver" (any non-empty subset, no repeats). Throws
// std::invalid_argument naming the unknown or repeated entry and the valid names.
std::vector<CameraStream> parse_camera_list(const std::string &list);

}  // namespace camerad
