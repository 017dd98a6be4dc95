#pragma once
// The text of a libav* (FFmpeg) error code, for error messages.
extern "C" {
#include <libavutil/error.h>
}

#include <string>

namespace conduit {

inline std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

}  // namespace conduit
