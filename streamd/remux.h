#pragma once
// A route's qcamera (H.264 in one MPEG-TS file per segment) as one MP4 that a
// browser's <video> plays and seeks: libavformat copies the packets into an
// MP4 container (no re-encode), moov first (faststart). Segment k's packets
// are placed at their recorded time: video time 0 is the route's first
// qcamera frame (qcamera_starts), so a signal's log time maps onto the video.
//
// The result is cached on disk as <cache_dir>/<route>.<key>.mp4, the key
// naming the inputs' sizes and mtimes: a segment still being written yields a
// new file when it has grown, and the route's older cache files are removed.
// Errors: std::runtime_error naming the segment and what libavformat refused.
// Threads: one call at a time per cache directory.
#include <string>

namespace streamd {

// The path of the cached MP4 (created if needed); throws std::invalid_argument
// when the route has no qcamera.ts at all.
std::string route_mp4(const std::string &root, const std::string &route, const std::string &cache_dir);

}  // namespace streamd
