#pragma once
// The routes under a log root as streamd shows them, and the only way from a
// URL to a file on disk: route names follow conduit::check_name, file names
// come from a fixed list, and every path component is opened with O_NOFOLLOW,
// read-only. Files still being written (a *.lock beside them) are listed and
// served up to what is on disk.
// Errors: the JSON functions return nullopt for an unknown route; the open
// functions return -1 with errno set (ENOENT for anything not served).
// Threads: pure functions of the directory.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loggerd/route.h"

namespace streamd {

// The files of a segment that are served, in the order they are listed.
extern const std::vector<std::string> kSegmentFiles;

// [{"name", "segments", "bytes", "recording", "mtime"}...], newest route first.
std::string routes_json(const std::string &root);

// {"name", "recording", "video_start_ns", "segments": [{"number", "files": {name: {"size", "writing"}}}]}
std::optional<std::string> route_json(const std::string &root, const std::string &route);

// The route's segment directories in order (empty when the name is not a valid route).
std::vector<loggerd::SegmentDir> route_segments(const std::string &root, const std::string &route);

// timestampSof of the first qcamera frame recorded in each segment (0 when its
// qlog has none), read from the segments' qRoadEncodeIdx events.
std::vector<uint64_t> qcamera_starts(const std::vector<loggerd::SegmentDir> &segments);

// Opens <root>/<route>--<number>/<file> for reading.
int open_segment_file(const std::string &root, const std::string &route, int number, const std::string &file);

// True when `name` may name a route or file (conduit::check_name's rules).
bool safe_name(const std::string &name);

}  // namespace streamd
