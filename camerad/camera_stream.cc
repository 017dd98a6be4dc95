#include "camerad/camera_stream.h"

#include <sstream>
#include <stdexcept>

namespace camerad {

namespace {
const CameraInfo kCameras[kCameraStreamCount] = {
    {CameraStream::Road, "road", "roadCameraState", VISION_STREAM_ROAD},
    {CameraStream::Wide, "wide", "wideRoadCameraState", VISION_STREAM_WIDE_ROAD},
    {CameraStream::Driver, "driver", "driverCameraState", VISION_STREAM_DRIVER},
};
}  // namespace

const CameraInfo &camera_info(CameraStream s) { return kCameras[int(s)]; }

std::vector<CameraStream> parse_camera_list(const std::string &list) {
  std::vector<CameraStream> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    bool found = false;
    for (const CameraInfo &c : kCameras) {
      if (item != c.name) continue;
      for (CameraStream s : out) {
        if (s == c.stream) throw std::invalid_argument("camera '" + item + "' is listed twice in '" + list + "'");
      }
      out.push_back(c.stream);
      found = true;
    }
    if (!found) {
      throw std::invalid_argument("unknown camera '" + item + "' in '" + list + "': expected a comma-separated subset of road,wide,driver");
    }
  }
  if (out.empty()) throw std::invalid_argument("empty camera list: expected a comma-separated subset of road,wide,driver");
  return out;
}

}  // namespace camerad
