#pragma once
// Where camerad's paced frames come from: the synthetic scene or a video file.
// (V4L2 devices pace themselves; see v4l2_camera.h.)
// Threads: one thread per source. Errors: std::runtime_error at construction
// for a bad source; fill() throws only on data errors (corrupt file).
#include <cstdint>
#include <memory>
#include <string>

#include "camerad/camera_stream.h"
#include "common/yuv420.h"

namespace camerad {

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Writes `stream`'s frame `frame_id`, due t_ns after the start, into dst
  // (any 4:2:0 layout: NV12 or I420).
  // Returns false when the source has ended (a file played without loop).
  virtual bool fill(CameraStream stream, uint32_t frame_id, uint64_t t_ns, const conduit::Yuv420Frame &dst) = 0;
  virtual const char *name() const = 0;    // FrameData.source
  virtual std::string sensor() const = 0;  // FrameData.sensor
};

std::unique_ptr<FrameSource> make_synthetic_source();
// Every stream shows the same file (decoded once per frame time).
std::unique_ptr<FrameSource> make_file_source(const std::string &path, int width, int height, bool loop, int fps);

}  // namespace camerad
