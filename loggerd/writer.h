#pragma once
// Writer: every byte loggerd puts on disk goes through one Writer (one per
// process), which owns the I/O backend (io_uring or pwrite, io_backend.h) and
// a pool of buffers registered with the kernel once.
//
//   Writer w;
//   AppendFile *f = w.open(dir + "/rlog.zst");   // also creates and holds rlog.zst.lock (file_lock.h)
//   f->append(bytes, n); f->end_unit();           // a unit: a zstd frame, a video packet
//   w.submit();                                   // once per loop turn
//   w.close(f);                                   // last writes + linked fsync; lock removed when durable
//
// Units: only whole units reach the disk. Bytes of an open unit wait in the
// buffers; at submit() each file's complete units go out as one chain of
// write_fixed ops at explicit offsets, after the chains still in flight
// (several per file: a submit need not wait for the last one's completions,
// which io_uring hands over only in the next io_uring_enter). If any write
// fails or is short (ENOSPC, EIO), its chain and every later one of the file
// count as dropped, nothing more is queued for the file until they are all
// back, and the file is truncated to the end of the last good chain: what was
// on disk before is never damaged and no half unit is ever counted as written.
// The Writer keeps going; later units are tried again. A closing file's last
// chain waits for the others and ends in a linked fsync, so it covers every
// write.
//
// Dependent units (a video stream: a frame needs the ones before it): for a
// file opened with `dependent_units`, a failed write opens a gap. Nothing
// more goes to that file, and every byte appended after its last good chain is
// dropped (counted), until the owner calls take_gap(), which says the gap is
// there (once) so the owner restarts its stream at a self-contained unit (a
// keyframe with its codec header).
//
// When every buffer is in use, append() submits and waits for the disk; if the
// buffers are all held by open units, the current unit of the file asking is
// dropped (counted) instead of blocking forever.
//
// Test hook: LOGGERD_INJECT_ENOSPC_AFTER=<bytes> (or WriterOptions) makes every
// chain that would bring this Writer's bytes on disk past the limit fail with
// ENOSPC, without a syscall.
//
// Threads: a Writer and its files are used by one thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loggerd/io_backend.h"

namespace loggerd {

struct WriterOptions {
  std::string io_mode = "auto";  // "auto" | "io_uring" | "pwrite" (see create_backend)
  size_t buffer_size = 128 << 10;
  size_t buffer_count = 128;
  int64_t inject_enospc_after = -1;  // -1: read LOGGERD_INJECT_ENOSPC_AFTER, unset = off
};

struct WriterStats {
  uint64_t bytes_written = 0;   // in completed chains (whole units), fsynced or not
  uint64_t bytes_dropped = 0;   // accepted by append() but never made it to disk
  uint64_t units_dropped = 0;   // units dropped because the pool was exhausted
  uint64_t write_errors = 0;    // failed chains
  uint64_t chains = 0;          // chains queued (one per file per submit with data)
  uint64_t submits = 0;         // submit() calls that queued something
  int last_errno = 0;
};

// A file a Writer appends to; Writer::open() makes it and owns it.
class AppendFile {
 public:
  void append(const void *data, size_t n);
  // Writable bytes at the end of the file's buffer (never empty); fill some, then commit().
  std::pair<char *, size_t> space();
  void commit(size_t n);
  // Ends the current unit: everything appended so far may now go to disk.
  void end_unit();
  // Throws away the open unit (counted as dropped): for a producer that failed halfway.
  void discard_unit();
  // dependent_units files: true once after a failed write, when everything
  // appended since the last good chain has been dropped; the next unit appended
  // must stand on its own. Always false for other files.
  bool take_gap();
  uint64_t gaps() const;  // failed writes that opened a gap
  const std::string &path() const;
  uint64_t appended() const;
  uint64_t disk_size() const;  // bytes completed on disk

 protected:
  AppendFile() = default;  // the state is the Writer's (writer.cc)
  ~AppendFile() = default;
  AppendFile(const AppendFile &) = delete;
  AppendFile &operator=(const AppendFile &) = delete;
};

class Writer {
 public:
  explicit Writer(WriterOptions opts = {});
  ~Writer();  // closes every open file and waits for the disk
  Writer(const Writer &) = delete;
  Writer &operator=(const Writer &) = delete;

  // Creates (truncates) `path` and `path.lock`. Throws std::runtime_error naming the path on failure.
  // dependent_units: a unit needs the ones before it (see "Dependent units" above).
  AppendFile *open(const std::string &path, bool dependent_units = false);
  // Queues the file's last complete units and an fsync linked after them; the
  // lock file is removed and `on_closed` runs once that is done. `f` must not be used afterwards.
  void close(AppendFile *f, std::function<void()> on_closed = {});
  // Hands every file's complete units to the kernel (one io_uring_enter) and
  // processes finished ops without blocking. Returns true when it queued a chain.
  // sleep_until_ns: see IoBackend::submit (the loop turn's pacing, in the same syscall).
  bool submit(uint64_t sleep_until_ns = 0);
  // submit() and wait until nothing is in flight and every closed file is finished.
  void drain();

  const WriterStats &stats() const;
  const char *backend_name() const;
  size_t open_files() const;
  size_t free_buffers() const;
  // Under a quarter of the pool is free: a caller batching turns should submit now.
  bool low_on_buffers() const;
  // Bytes appended but not yet completed on disk (open units, queued, in flight).
  uint64_t pending_bytes() const;

 private:
  friend class AppendFile;
  struct Impl;  // writer.cc
  std::unique_ptr<Impl> impl_;
};

}  // namespace loggerd
