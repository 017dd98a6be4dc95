#pragma once
// The synthetic camera: a road scene seen from a moving car, drawn straight
// into a caller's 4:2:0 buffer (NV12 or I420: the same samples either way).
// Pixels are a pure function of (stream, frame id, size), so any consumer can
// re-render a frame and compare it with what it got.
//
// Scene time is frame_id / kSceneFps seconds whatever rate camerad runs at.
// The road (asphalt texture, dashed lane lines, edge lines, grass) is drawn in
// perspective and moves forward; it sways and curves slowly; a lead car changes
// distance; clouds drift. The driver camera looks backwards (the road recedes).
//
// A stamp along the top-left edge (40 black/white blocks, each 1/64 of the
// width wide) carries the frame id and stream, so a frame can be identified
// even after lossy encoding or scaling (read_stamp).
//
// Cost: row-wise, with precomputed mip-mapped texture tables; no per-pixel
// trigonometry. Thread-safe (tables are built once, then read only).
// Errors: std::invalid_argument for a bad destination (Yuv420Frame::validate) or a
// frame narrower than 128 pixels.
#include <cstdint>
#include <optional>

#include "camerad/camera_stream.h"
#include "common/yuv420.h"

namespace camerad {

constexpr int kSceneFps = 20;

void render_synthetic(CameraStream stream, uint32_t frame_id, const conduit::Yuv420Frame &dst);

struct FrameStamp {
  uint32_t frame_id;
  CameraStream stream;
};

// Reads the stamp from a Y plane (any size the frame was scaled to); nullopt
// when the check bits do not match.
std::optional<FrameStamp> read_stamp(const uint8_t *y, int stride, int width, int height);

}  // namespace camerad
