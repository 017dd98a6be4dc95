#include "camerad/nv12.h"

#include <stdexcept>

namespace camerad {

void check_nv12(const Nv12Frame &f, const std::string &what) {
  auto fail = [&](const std::string &why) {
    throw std::invalid_argument(what + ": bad NV12 frame " + std::to_string(f.width) + "x" +
                                std::to_string(f.height) + " stride " + std::to_string(f.stride) + ": " + why);
  };
  if (f.width <= 0 || f.height <= 0) fail("expected a positive size");
  if (f.width % 2 || f.height % 2) fail("expected even width and height (4:2:0 chroma)");
  if (f.stride < f.width) fail("expected stride >= width");
  if (!f.y || !f.uv) fail("expected both Y and UV planes");
  if (f.uv < f.y + f.y_bytes() && f.y < f.uv + f.uv_bytes()) fail("Y and UV planes overlap");
}

}  // namespace camerad
