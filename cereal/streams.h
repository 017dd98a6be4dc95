#pragma once
// The stream table (cereal/streams.py, generated into cereal/gen/streams.h) and
// the Event members it names: one place maps a camera or video to its services,
// so no process switches over camera indices. The accessors throw
// std::invalid_argument when an Event holds another member than the row's.
// Thread-safe (no state); link with 'cereal'.
#include <string>
#include <vector>

#include "cereal/gen/streams.h"

namespace cereal {

// Parses "road,wide,driver" (any non-empty subset, no repeats). Throws
// std::invalid_argument naming the unknown or repeated entry and the valid names.
std::vector<Camera> parse_camera_list(const std::string &list);

FrameData::Builder init_camera_state(Event::Builder ev, Camera c);
EncodeData::Builder init_encode_data(Event::Builder ev, const Video &v);
EncodeIndex::Builder init_encode_idx(Event::Builder ev, const Video &v);
void set_encode_idx(Event::Builder ev, const Video &v, EncodeIndex::Reader idx);
EncodeData::Reader encode_data(Event::Reader ev, const Video &v);
EncodeIndex::Reader encode_idx(Event::Reader ev, const Video &v);

}  // namespace cereal
