#pragma once
// A small route written straight in the documented format, for tests and
// benchmarks that must not wait for the real pipeline: per segment an rlog.zst
// and qlog.zst of Events (initData, sentinels, roadCameraState, roadEncodeIdx,
// sensorEvents, can, deviceState) and an fcamera.hevc of synthetic camera frames
// (camerad/synthetic_scene.h, so pixels can be checked) encoded with libx265.
//
// Content is a pure function of the options, so tests know every value:
//   frame f (global, from 0) of segment s = f / frames_per_segment:
//     roadCameraState.frameId = f at t(f) = start_mono + f * 1e9 / fps + 1 ms,
//     roadEncodeIdx at t(f) + 3 ms with segmentIdEncode = f % frames_per_segment,
//     keyframe every `gop` frames of a segment;
//   sensorEvents message j at start_mono + j * 1e9 / sensor_hz, one value
//     [j, sin(j / 10)]; can message j every 2nd sensor tick, address 0x100 + j % 4,
//     dat = 4 bytes little-endian j.
// Errors: std::runtime_error naming the failing step (encoder missing, write failed).
#include <cstdint>
#include <string>
#include <vector>

namespace replay {

struct FixtureOptions {
  std::string dir;                   // log root to write into (created)
  std::string route = "fixture";
  int segments = 2;
  int frames_per_segment = 40;       // at `fps`
  int fps = 20;
  int width = 320, height = 240;     // even, width >= 128
  int gop = 20;
  int crf = 18;
  int sensor_hz = 100;
  uint64_t start_mono = 1'000'000'000'000ull;  // ns
  bool video = true;
};

struct FixtureRoute {
  std::string name;                  // route name (directories are name--<n>)
  std::vector<std::string> segment_dirs;
  uint64_t start_mono = 0, end_mono = 0;
};

FixtureRoute write_fixture_route(const FixtureOptions &opts);

// logMonoTime of frame f's roadEncodeIdx in a fixture written with `opts`.
uint64_t fixture_frame_time(const FixtureOptions &opts, uint32_t frame_id);

}  // namespace replay
