// video_info: frame counts of segment videos, one JSON line per file:
//   {"file", "frames", "keyframes", "width", "height"}  or  {"file", "error"}
// Used by tools/route_info. Demuxes only (FrameReader), decodes nothing.
#include <cstdio>
#include <string>

extern "C" {
#include <libavutil/log.h>
}

#include "tools/replay/frame_reader.h"

namespace {

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if ((unsigned char)c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
    printf("usage: video_info FILE...\nPrints frames, keyframes and size of each video as JSON lines.\n");
    return argc < 2 ? 2 : 0;
  }
  av_log_set_level(AV_LOG_FATAL);
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    try {
      replay::FrameReader fr(argv[i], 1);
      size_t keys = 0;
      for (size_t k = 0; k < fr.size(); ++k) keys += fr.is_keyframe(k);
      printf("{\"file\": %s, \"frames\": %zu, \"keyframes\": %zu, \"width\": %d, \"height\": %d}\n",
             json_string(argv[i]).c_str(), fr.size(), keys, fr.width(), fr.height());
    } catch (const std::exception &e) {
      printf("{\"file\": %s, \"error\": %s}\n", json_string(argv[i]).c_str(), json_string(e.what()).c_str());
      status = 1;
    }
  }
  return status;
}
