#include "tools/mcap/compressed_video.h"

#include "tools/mcap/event_json.h"

namespace foxglove {

const char *const kCompressedVideoSchema = R"({"title":"foxglove.CompressedVideo","description":"A single frame of a compressed video bitstream","type":"object","properties":{"timestamp":{"type":"object","title":"time","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}},"frame_id":{"type":"string"},"data":{"type":"string","contentEncoding":"base64"},"format":{"type":"string"}},"required":["timestamp","frame_id","data","format"]})";

const cereal::Video *video_stream(std::string_view topic) {
  for (const auto &s : cereal::kVideos)
    if (topic == s.data_service) return &s;
  return nullptr;
}

bool has_parameter_sets(const uint8_t *d, size_t n, bool hevc) {
  for (size_t i = 0; i + 3 < n; ++i) {
    if (d[i] != 0 || d[i + 1] != 0 || d[i + 2] != 1) continue;
    int type = hevc ? (d[i + 3] >> 1) & 0x3f : d[i + 3] & 0x1f;
    if (type == (hevc ? 33 : 7)) return true;  // SPS
    i += 2;
  }
  return false;
}

std::string compressed_video_json(const cereal::Video &s, uint64_t t, const uint8_t *data, size_t size, bool keyframe,
                                  std::string_view header) {
  bool prepend = keyframe && !header.empty() && !has_parameter_sets(data, size, !s.qcamera);
  std::string out;
  out.reserve((size + header.size()) * 4 / 3 + 128);
  out += "{\"timestamp\":{\"sec\":" + std::to_string(t / 1000000000) + ",\"nsec\":" + std::to_string(t % 1000000000) +
         "},\"frame_id\":\"" + cereal::camera_info(s.camera).name + "\",\"format\":\"" + (s.qcamera ? "h264" : "h265") + "\",\"data\":\"";
  if (prepend) {
    std::string whole(header);
    whole.append(reinterpret_cast<const char *>(data), size);
    append_base64(out, reinterpret_cast<const uint8_t *>(whole.data()), whole.size());
  } else {
    append_base64(out, data, size);
  }
  out += "\"}";
  return out;
}

}  // namespace foxglove
