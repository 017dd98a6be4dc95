#pragma once
// Camera streams as Foxglove's foxglove.CompressedVideo messages (JSON encoding):
//   {"timestamp": {"sec", "nsec"}, "frame_id", "data": base64, "format": "h265"|"h264"}
// One message per encoded frame, in Annex B. Foxglove starts decoding at a
// keyframe that carries its parameter sets (VPS/SPS/PPS for H.265, SPS/PPS for
// H.264), so a keyframe whose packet lacks them gets the codec header in front.
// Channels are named after the EncodeData service of the video (cereal/streams.h), in the MCAP
// export (from the segment's video file) and live (from the bus) alike.
// Pure functions and constants; any thread.
#include <cstdint>
#include <string>
#include <string_view>

#include "cereal/streams.h"

namespace foxglove {

// The stream whose topic is `topic`, or nullptr.
const cereal::Video *video_stream(std::string_view topic);

inline constexpr const char *kCompressedVideoSchemaName = "foxglove.CompressedVideo";
// Its JSON Schema.
extern const char *const kCompressedVideoSchema;

// True when the Annex B packet holds the stream's parameter sets.
bool has_parameter_sets(const uint8_t *data, size_t size, bool hevc);

// The message of one frame. `header`: parameter sets to put in front of a
// keyframe that lacks them (may be empty).
std::string compressed_video_json(const cereal::Video &s, uint64_t timestamp_ns, const uint8_t *data, size_t size,
                                  bool keyframe, std::string_view header);

}  // namespace foxglove
