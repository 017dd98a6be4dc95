#pragma once
// Live H.264 packets (Annex B, parameter sets on keyframes: qRoadEncodeData)
// into fragmented MP4 for a browser's MediaSource: an init segment (ftyp +
// moov) once, then one fragment (moof + mdat) per packet. libavformat's mp4
// muxer writes both into memory; nothing is re-encoded.
//
// Timestamps: 90 kHz from the first packet's timestampSof (start_ns()). A
// frame's duration is unknown when it is sent, so each sample lasts as long
// as the interval before it: fragment n+1 starts (tfdt) at the capture time
// of frame n, exactly. The picture runs one frame early; nothing waits.
// Threads: one thread. Errors: push() returns false for a packet that cannot
// start the stream (no keyframe with parameter sets yet) or that the muxer
// refuses; a keyframe with new parameter sets restarts the stream (generation()
// counts restarts, and init() changes with it).
#include <cstdint>
#include <string>

struct AVFormatContext;
struct AVIOContext;

namespace streamd {

class Fmp4Fragmenter {
 public:
  Fmp4Fragmenter() = default;
  ~Fmp4Fragmenter();
  Fmp4Fragmenter(const Fmp4Fragmenter &) = delete;
  Fmp4Fragmenter &operator=(const Fmp4Fragmenter &) = delete;

  // On success fragment() holds this packet's moof + mdat.
  bool push(const uint8_t *data, size_t size, const std::string &header, bool keyframe, uint64_t sof_ns, int width,
            int height);
  const std::string &init() const { return init_; }
  const std::string &fragment() const { return out_; }
  uint64_t start_ns() const { return start_ns_; }
  int generation() const { return generation_; }

 private:
  bool open(const std::string &header, int width, int height, uint64_t sof_ns);
  void close();
  static int write_cb(void *opaque, uint8_t *buf, int size);  // FFmpeg 5 signature

  AVFormatContext *fmt_ = nullptr;
  AVIOContext *io_ = nullptr;
  std::string header_, init_, out_;
  uint64_t start_ns_ = 0;
  int64_t last_pts_ = -1;
  int generation_ = 0;
};

}  // namespace streamd
