#pragma once
// Camera streams as Foxglove's foxglove.CompressedVideo messages (JSON encoding):
//   {"timestamp": {"sec", "nsec"}, "frame_id", "data": base64, "format": "h265"|"h264"}
// One message per encoded frame, in Annex B. Foxglove starts decoding at a
// keyframe that carries its parameter sets (VPS/SPS/PPS for H.265, SPS/PPS for
// H.264), so a keyframe whose packet lacks them gets the codec header in front.
// Channels are named after the EncodeData service of the stream, in the MCAP
// export (from the segment's video file) and live (from the bus) alike.
// Pure functions and constants; any thread.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "cereal/gen/log.capnp.h"

namespace foxglove {

struct VideoStream {
  const char *topic;                // the EncodeData service: "roadEncodeData", ...
  cereal::Event::Which encode_idx;  // the EncodeIndex service indexing the file
  const char *file;                 // in the segment directory
  bool hevc;                        // else H.264
  const char *frame_id;             // the camera
};

inline constexpr std::array<VideoStream, 4> kVideoStreams = {{
    {"roadEncodeData", cereal::Event::ROAD_ENCODE_IDX, "fcamera.hevc", true, "road"},
    {"wideRoadEncodeData", cereal::Event::WIDE_ROAD_ENCODE_IDX, "ecamera.hevc", true, "wide"},
    {"driverEncodeData", cereal::Event::DRIVER_ENCODE_IDX, "dcamera.hevc", true, "driver"},
    {"qRoadEncodeData", cereal::Event::Q_ROAD_ENCODE_IDX, "qcamera.ts", false, "road"},
}};

// The stream whose topic is `topic`, or nullptr.
const VideoStream *video_stream(std::string_view topic);

inline constexpr const char *kCompressedVideoSchemaName = "foxglove.CompressedVideo";
// Its JSON Schema.
extern const char *const kCompressedVideoSchema;

// True when the Annex B packet holds the stream's parameter sets.
bool has_parameter_sets(const uint8_t *data, size_t size, bool hevc);

// The message of one frame. `header`: parameter sets to put in front of a
// keyframe that lacks them (may be empty).
std::string compressed_video_json(const VideoStream &s, uint64_t timestamp_ns, const uint8_t *data, size_t size,
                                  bool keyframe, std::string_view header);

}  // namespace foxglove
