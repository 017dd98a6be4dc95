#include "camerad/frame_source.h"

#include <vector>

#include "camerad/synthetic_scene.h"
#include "camerad/video_file_source.h"

namespace camerad {

namespace {

class SyntheticSource : public FrameSource {
 public:
  // Builds the scene's texture tables now rather than inside the first frame time.
  SyntheticSource() {
    conduit::Yuv420Layout l = conduit::yuv420_layout(conduit::PixelFormat::kNv12, 128, 128);
    std::vector<uint8_t> mem(l.size());
    for (int s = 0; s < kCameraStreamCount; s++) render_synthetic(CameraStream(s), 0, conduit::Yuv420Frame::at(mem.data(), l));
  }
  bool fill(CameraStream stream, uint32_t frame_id, uint64_t, const conduit::Yuv420Frame &dst) override {
    render_synthetic(stream, frame_id, dst);
    return true;
  }
  const char *name() const override { return "synthetic"; }
  std::string sensor() const override { return "synthetic"; }
};

class FileSource : public FrameSource {
 public:
  FileSource(const std::string &path, int width, int height, bool loop, int fps)
      : path_(path), file_(path, width, height, loop, fps) {}
  bool fill(CameraStream, uint32_t, uint64_t t_ns, const conduit::Yuv420Frame &dst) override { return file_.frame(t_ns, dst); }
  const char *name() const override { return "file"; }
  std::string sensor() const override { return "file:" + path_; }

 private:
  std::string path_;
  VideoFileSource file_;
};

}  // namespace

std::unique_ptr<FrameSource> make_synthetic_source() { return std::make_unique<SyntheticSource>(); }

std::unique_ptr<FrameSource> make_file_source(const std::string &path, int width, int height, bool loop, int fps) {
  return std::make_unique<FileSource>(path, width, height, loop, fps);
}

}  // namespace camerad
