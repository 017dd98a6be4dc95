// video_info: frame counts of segment videos, one JSON line per file:
//   {"file", "frames", "keyframes", "width", "height"}  or  {"file", "error"}
// Used by tools/route_info. Demuxes only (FrameReader), decodes nothing;
// with --decode it also decodes every frame in order and adds
//   "decode_errors": frames that failed plus errors libavcodec reported
// (a P-frame whose reference is missing decodes to garbage with only a log line).
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

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

std::atomic<int> g_av_errors{0};

void count_errors(void *, int level, const char *, va_list) {
  if (level <= AV_LOG_ERROR) g_av_errors++;
}

// Decodes every frame of fr in order; returns the decode errors.
int decode_all(replay::FrameReader &fr) {
  auto layout = conduit::yuv420_layout(conduit::PixelFormat::kI420, fr.width(), fr.height());
  std::vector<uint8_t> buf(layout.size());
  conduit::Yuv420Frame dst = conduit::Yuv420Frame::at(buf.data(), layout);
  g_av_errors = 0;
  int failed = 0;
  for (size_t k = 0; k < fr.size(); ++k) {
    try {
      fr.get(k, dst);
    } catch (const replay::FrameError &) {
      failed++;
    }
  }
  return failed + g_av_errors;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
    printf("usage: video_info [--decode] FILE...\nPrints frames, keyframes and size of each video as JSON lines;\n"
           "--decode also decodes every frame and counts decode errors.\n");
    return argc < 2 ? 2 : 0;
  }
  bool decode = std::string(argv[1]) == "--decode";
  av_log_set_level(AV_LOG_FATAL);
  if (decode) av_log_set_callback(count_errors);
  int status = 0;
  for (int i = 1 + decode; i < argc; ++i) {
    try {
      replay::FrameReader fr(argv[i], 1);
      size_t keys = 0;
      for (size_t k = 0; k < fr.size(); ++k) keys += fr.is_keyframe(k);
      std::string errors = decode ? ", \"decode_errors\": " + std::to_string(decode_all(fr)) : "";
      printf("{\"file\": %s, \"frames\": %zu, \"keyframes\": %zu, \"width\": %d, \"height\": %d%s}\n",
             json_string(argv[i]).c_str(), fr.size(), keys, fr.width(), fr.height(), errors.c_str());
    } catch (const std::exception &e) {
      printf("{\"file\": %s, \"error\": %s}\n", json_string(argv[i]).c_str(), json_string(e.what()).c_str());
      status = 1;
    }
  }
  return status;
}
