#include "visionipc/visionipc.h"

#include <unistd.h>

#include "common/prefix.h"

namespace visionipc {

std::string stream_name(VisionStreamType type) {
  switch (type) {
    case VISION_STREAM_ROAD: return "road";
    case VISION_STREAM_DRIVER: return "driver";
    case VISION_STREAM_WIDE_ROAD: return "wideRoad";
    case VISION_STREAM_MAP: return "map";
    default: break;
  }
  if (type < 0 || type >= VISION_STREAM_MAX) {
    throw Error("stream type " + std::to_string(int(type)) + " is out of range: expected 0.." +
                std::to_string(VISION_STREAM_MAX - 1));
  }
  return "stream" + std::to_string(int(type));
}

std::string socket_name(const std::string &server_name) {
  conduit::check_name(server_name, "VisionIPC server name");
  return "vipc_" + server_name;
}

std::string announce_topic(const std::string &server_name, VisionStreamType type) {
  return socket_name(server_name) + "_" + stream_name(type);
}

BufferLayout buffer_layout(conduit::PixelFormat format, uint32_t width, uint32_t height) {
  if (width < 2 || height < 2 || width > 16384 || height > 16384 || width % 2 || height % 2) {
    throw Error(std::string(conduit::pixel_format_name(format)) + " frame " + std::to_string(width) + "x" +
                std::to_string(height) + " is invalid: expected even width and height in 2..16384");
  }
  BufferLayout l;
  l.frame = conduit::yuv420_layout(format, int(width), int(height), 64, 16);
  uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  uint64_t bytes = l.frame.u_offset + uint64_t(l.frame.stride) * uint64_t((height + 15) / 16 * 8);
  l.len = (bytes + page - 1) / page * page;
  return l;
}

}  // namespace visionipc
