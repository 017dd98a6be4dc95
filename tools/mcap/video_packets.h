#pragma once
// The encoded packets of one segment video (fcamera.hevc, qcamera.ts, ...), in
// file order, without decoding: packet i is the frame whose EncodeIndex has
// segmentIdEncode == i. The exporter copies them into the MCAP file as they are.
// Errors: std::runtime_error naming the file (cannot open, no video stream, read
// error); a file cut short ends with the packets read so far (truncated = true).
#include <cstdint>
#include <string>
#include <vector>

namespace foxglove {

struct VideoPackets {
  struct Packet {
    std::string data;  // Annex B
    bool keyframe;
  };
  std::vector<Packet> packets;
  std::string header;      // codec parameter sets of the stream, if the container has them
  bool truncated = false;  // a read error ended the file early
  std::string error;       // why, when truncated
};

VideoPackets read_video_packets(const std::string &path);

}  // namespace foxglove
