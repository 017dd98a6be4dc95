// ZstdLogFile: streaming compression straight into the Writer's registered buffers.
#include "loggerd/zstd_log_file.h"

#include <stdexcept>

namespace loggerd {

ZstdLogFile::ZstdLogFile(Writer &writer, const std::string &path, ZstdLogOptions opts)
    : writer_(writer), file_(nullptr), path_(path), opts_(opts), cctx_(ZSTD_createCCtx()) {
  if (!cctx_) throw std::runtime_error("ZSTD_createCCtx failed");
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, opts_.level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
  try {
    file_ = writer_.open(path);
  } catch (...) {
    ZSTD_freeCCtx(cctx_);
    throw;
  }
}

ZstdLogFile::~ZstdLogFile() {
  close();
  ZSTD_freeCCtx(cctx_);
}

void ZstdLogFile::compress(const void *data, size_t size, ZSTD_EndDirective mode) {
  ZSTD_inBuffer in{data, size, 0};
  for (;;) {
    auto [dst, room] = file_->space();
    ZSTD_outBuffer out{dst, room, 0};
    size_t left = ZSTD_compressStream2(cctx_, &out, &in, mode);
    if (ZSTD_isError(left)) throw std::runtime_error(std::string("zstd compression of ") + path_ + " failed: " + ZSTD_getErrorName(left));
    file_->commit(out.pos);
    bool done = mode == ZSTD_e_continue ? in.pos == in.size : left == 0;
    if (done) return;
  }
}

void ZstdLogFile::write(const void *data, size_t size, uint64_t now_ns) {
  if (!file_) throw std::logic_error("ZstdLogFile::write after close: " + path_);
  if (!frame_open_) {
    frame_open_ = true;
    frame_start_ns_ = now_ns;
    frame_bytes_ = 0;
  }
  compress(data, size, ZSTD_e_continue);
  frame_bytes_ += size;
  bytes_in_ += size;
  events_++;
  if (frame_bytes_ >= opts_.max_frame_bytes) flush();
}

void ZstdLogFile::maybe_flush(uint64_t now_ns) {
  if (frame_open_ && now_ns - frame_start_ns_ >= opts_.flush_interval_ns) flush();
}

void ZstdLogFile::flush() {
  if (!frame_open_ || !file_) return;
  compress(nullptr, 0, ZSTD_e_end);
  file_->end_unit();
  frame_open_ = false;
  frames_++;
}

void ZstdLogFile::close() {
  if (!file_) return;
  flush();
  writer_.close(file_);
  file_ = nullptr;
}

}  // namespace loggerd
