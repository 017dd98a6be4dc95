#pragma once
// Time series of numeric fields of a route's log, for the page's plots. A
// signal is SERVICE.FIELD with FIELD a dotted path (list items by index), as
// tools/plot takes them: modelV2.sceneChange, sensorEvents.0.values.1.
// Times are seconds since `t0_ns` (the route's first qcamera frame, so plots
// and video share one clock; the first event when t0_ns is 0).
// Errors: std::invalid_argument naming the signal and what was found there.
// Threads: a pure function of the files.
#include <cstdint>
#include <string>
#include <vector>

namespace streamd {

// {"t0_ns": .., "signals": {name: {"t": [..], "v": [..]}}}; at most
// `max_points` per signal (evenly thinned beyond that).
std::string signals_json(const std::string &route_dir_spec, const std::vector<std::string> &signals, uint64_t t0_ns,
                         size_t max_points = 20000);

}  // namespace streamd
