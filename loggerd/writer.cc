// Writer: units, chains and recovery from failed writes (see writer.h).
#include "loggerd/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include "loggerd/file_lock.h"

namespace loggerd {
namespace {

// Completion tags: file id (16 bits) | chain seq (4 bits) | buffer index + 1
// (12 bits, 0 = fsync) | op length (32 bits).
constexpr uint32_t kIdBits = 16;
constexpr uint32_t kIdMask = (1u << kIdBits) - 1;
constexpr uint32_t kSeqMask = 15;
constexpr size_t kMaxChains = 8;  // in flight per file; fewer than kSeqMask + 1 keeps seqs unique
constexpr size_t kMaxBuffers = 4095;

uint64_t make_tag(uint32_t id, uint32_t seq, int buf, uint32_t len) {
  return (uint64_t(id) << 48) | (uint64_t(seq) << 44) | (uint64_t(buf + 1) << 32) | len;
}

int64_t env_int(const char *name, int64_t fallback) {
  const char *v = getenv(name);
  if (!v || !*v) return fallback;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (*end || x < 0) throw std::invalid_argument(std::string(name) + ": expected a byte count, found '" + v + "'");
  return x;
}

}  // namespace

// The Writer's state: the buffer pool, the backend, the open files.
struct Writer::Impl {
  struct File;
  explicit Impl(WriterOptions opts);
  ~Impl();
  AppendFile *open(const std::string &path, bool dependent_units);
  void close(File *f, std::function<void()> on_closed);
  bool submit(uint64_t sleep_until_ns = 0);
  void drain();
  uint64_t pending_bytes() const;
  int acquire_buffer(File *f);
  // Queues the file's complete units; returns true when they must wait for its chains in flight.
  bool queue_chain(File *f);
  void process(const std::vector<IoCompletion> &done);
  void retire_chains(File *f);
  void release_buffers(File *f);
  void finalize(File *f);
  void reap(bool wait);

  WriterOptions opts_;
  std::unique_ptr<char[], void (*)(void *)> mem_;
  std::vector<iovec> iov_;
  std::vector<int> free_;
  std::unique_ptr<IoBackend> backend_;
  std::unordered_map<uint32_t, std::unique_ptr<File>> files_;
  uint32_t next_id_ = 1;
  uint64_t disk_bytes_ = 0, in_flight_bytes_ = 0, completions_ = 0;
  std::vector<IoCompletion> synthetic_;  // injected failures, delivered by reap()
  std::vector<IoOp> ops_;
  std::vector<IoCompletion> done_;
  std::vector<char> scratch_;  // sink for the bytes of a dropped unit
  WriterStats stats_;
};

// A file's state: the buffers holding its bytes, and its chains in flight.
struct Writer::Impl::File : AppendFile {
  struct Buf {
    int index;
    uint64_t base;     // stream offset of data[0]
    uint32_t filled;
    int in_flight;
  };
  struct Chain {
    uint32_t seq;      // tells its completions apart from other chains of the file
    int ops_left;
    uint64_t bytes;
    int error;         // errno of its first failed op; 0 while all went well
  };
  File(Impl *w, uint32_t id, int fd, int lock_fd, std::string path, std::string lock_path)
      : w_(w), id_(id), fd_(fd), lock_fd_(lock_fd), path_(std::move(path)), lock_path_(std::move(lock_path)) {}
  void drop_open_unit();
  void drop_after(uint64_t pos);  // drops appended bytes from stream offset `pos` on (counted)

  Impl *w_;
  uint32_t id_;
  int fd_, lock_fd_;  // lock_fd_ holds the flock of lock_path_ (file_lock.h)
  std::string path_, lock_path_;
  std::function<void()> on_closed_;
  std::deque<Buf> bufs_;
  uint64_t appended_ = 0, unit_end_ = 0, submitted_ = 0;
  bool dropping_unit_ = false;
  uint64_t disk_end_ = 0;   // end of the last chain that completed, in order, without error
  uint64_t queued_end_ = 0; // where the next chain starts: disk_end_ + the chains in flight
  std::deque<Chain> chains_;  // in flight, oldest first
  uint32_t next_seq_ = 0;
  bool discarding_ = false;  // a chain failed: later chains are dropped until the file is cut back
  bool closing_ = false, fsynced_ = false;
  bool dependent_ = false, gap_open_ = false;
  uint64_t gaps_ = 0;
};

// AppendFile's methods work on the state it is the interface of.
void AppendFile::append(const void *data, size_t n) {
  const char *p = static_cast<const char *>(data);
  while (n > 0) {
    auto [dst, room] = space();
    size_t c = std::min(room, n);
    memcpy(dst, p, c);
    commit(c);
    p += c;
    n -= c;
  }
}

std::pair<char *, size_t> AppendFile::space() {
  auto &f = static_cast<Writer::Impl::File &>(*this);
  if (!f.dropping_unit_ && (f.bufs_.empty() || f.bufs_.back().filled == f.w_->opts_.buffer_size)) {
    int idx = f.w_->acquire_buffer(&f);
    if (idx >= 0) f.bufs_.push_back({idx, f.appended_, 0, 0});
  }
  if (f.dropping_unit_) return {f.w_->scratch_.data(), f.w_->scratch_.size()};
  auto &b = f.bufs_.back();
  return {static_cast<char *>(f.w_->iov_[b.index].iov_base) + b.filled, f.w_->opts_.buffer_size - b.filled};
}

void AppendFile::commit(size_t n) {
  auto &f = static_cast<Writer::Impl::File &>(*this);
  if (f.dropping_unit_) {
    f.w_->stats_.bytes_dropped += n;
    return;
  }
  f.bufs_.back().filled += n;
  f.appended_ += n;
}

void AppendFile::end_unit() {
  auto &f = static_cast<Writer::Impl::File &>(*this);
  f.dropping_unit_ = false;
  f.unit_end_ = f.appended_;
}

void AppendFile::discard_unit() {
  auto &f = static_cast<Writer::Impl::File &>(*this);
  f.drop_open_unit();
  f.dropping_unit_ = false;
}

bool AppendFile::take_gap() {
  auto &f = static_cast<Writer::Impl::File &>(*this);
  if (!f.gap_open_) return false;
  f.drop_after(f.submitted_);  // units held back since the failure: they follow the gap
  f.dropping_unit_ = false;
  f.gap_open_ = false;
  return true;
}

uint64_t AppendFile::gaps() const { return static_cast<const Writer::Impl::File &>(*this).gaps_; }
const std::string &AppendFile::path() const { return static_cast<const Writer::Impl::File &>(*this).path_; }
uint64_t AppendFile::appended() const { return static_cast<const Writer::Impl::File &>(*this).appended_; }
uint64_t AppendFile::disk_size() const { return static_cast<const Writer::Impl::File &>(*this).disk_end_; }

void Writer::Impl::File::drop_open_unit() { drop_after(unit_end_); }

void Writer::Impl::File::drop_after(uint64_t pos) {
  w_->stats_.bytes_dropped += appended_ - pos;
  appended_ = pos;
  unit_end_ = std::min(unit_end_, pos);
  while (!bufs_.empty() && bufs_.back().base >= pos && bufs_.back().in_flight == 0) {
    w_->free_.push_back(bufs_.back().index);
    bufs_.pop_back();
  }
  if (!bufs_.empty()) bufs_.back().filled = uint32_t(pos - bufs_.back().base);
}

Writer::Impl::Impl(WriterOptions opts) : opts_(std::move(opts)), mem_(nullptr, free) {
  if (opts_.buffer_size == 0 || opts_.buffer_size % 4096 || opts_.buffer_size > (1u << 30))
    throw std::invalid_argument("Writer: buffer_size must be a multiple of 4096 up to 1 GiB, found " + std::to_string(opts_.buffer_size));
  if (opts_.buffer_count == 0 || opts_.buffer_count > kMaxBuffers)
    throw std::invalid_argument("Writer: buffer_count must be 1.." + std::to_string(kMaxBuffers) + ", found " + std::to_string(opts_.buffer_count));
  if (opts_.inject_enospc_after < 0) opts_.inject_enospc_after = env_int("LOGGERD_INJECT_ENOSPC_AFTER", -1);
  mem_.reset(static_cast<char *>(aligned_alloc(4096, opts_.buffer_size * opts_.buffer_count)));
  if (!mem_) throw std::runtime_error("Writer: cannot allocate the buffer pool");
  for (size_t i = 0; i < opts_.buffer_count; ++i) {
    iov_.push_back({mem_.get() + i * opts_.buffer_size, opts_.buffer_size});
    free_.push_back(int(opts_.buffer_count - 1 - i));
  }
  scratch_.resize(64 << 10);
  backend_ = create_backend(iov_, opts_.io_mode);
}

Writer::Impl::~Impl() {
  std::vector<File *> open;
  for (auto &[id, f] : files_)
    if (!f->closing_) open.push_back(f.get());
  for (File *f : open) close(f, {});
  drain();
}

AppendFile *Writer::Impl::open(const std::string &path, bool dependent_units) {
  std::string lock = path + ".lock";
  int lfd = hold_lock(lock);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    unlink(lock.c_str());
    ::close(lfd);
    throw std::runtime_error("cannot create " + path + ": " + strerror(e));
  }
  while (files_.count(next_id_) || next_id_ == 0) next_id_ = (next_id_ + 1) & kIdMask;
  uint32_t id = next_id_;
  next_id_ = (next_id_ + 1) & kIdMask;
  auto *f = new File(this, id, fd, lfd, path, lock);
  f->dependent_ = dependent_units;
  files_[id].reset(f);
  return f;
}

void Writer::Impl::close(File *f, std::function<void()> on_closed) {
  if (f->appended_ > f->unit_end_) f->drop_open_unit();  // a unit never ended is not data
  f->dropping_unit_ = false;
  f->closing_ = true;
  f->on_closed_ = std::move(on_closed);
}

int Writer::Impl::acquire_buffer(File *f) {
  while (free_.empty()) {
    uint64_t seen = completions_;
    bool queued = submit();
    if (!free_.empty()) break;
    if (backend_->in_flight() == 0 && synthetic_.empty()) {
      if (queued || completions_ != seen) continue;  // progress: more units may be ready to go
      // Every buffer holds an open unit: nothing will ever free one. Give up this unit.
      f->drop_open_unit();
      f->dropping_unit_ = true;
      stats_.units_dropped++;
      if (stats_.units_dropped == 1 || stats_.units_dropped % 1000 == 0)
        fprintf(stderr, "loggerd: buffer pool exhausted by open units, dropping a unit of %s (%llu so far)\n",
                f->path_.c_str(), (unsigned long long)stats_.units_dropped);
      return -1;
    }
    reap(true);
  }
  // cppcheck-suppress containerOutOfBounds ; the loop above leaves only with a free buffer
  int idx = free_.back();
  free_.pop_back();
  return idx;
}

bool Writer::Impl::queue_chain(File *f) {
  // After a failed chain nothing is queued until the file is cut back (retire_chains);
  // a closing file's last chain (with the fsync) waits until the others are back.
  if (f->gap_open_ && f->closing_) f->take_gap();  // nobody will restart the stream: end it at the gap
  bool last = f->closing_;  // close() ended or dropped the open unit
  bool held = f->discarding_ || f->gap_open_ || f->chains_.size() >= kMaxChains || (last && !f->chains_.empty()) ||
              std::any_of(f->chains_.begin(), f->chains_.end(), [](const File::Chain &c) { return c.error != 0; });
  if (held) return !f->gap_open_ && (f->unit_end_ > f->submitted_ || last);
  uint32_t seq = f->next_seq_;
  ops_.clear();
  uint64_t off = f->queued_end_, bytes = 0;
  for (auto &b : f->bufs_) {
    uint64_t s = std::max(f->submitted_, b.base), e = std::min(f->unit_end_, b.base + b.filled);
    if (e <= s) continue;
    uint32_t len = uint32_t(e - s);
    ops_.push_back({IoOp::kWrite, f->fd_, b.index, static_cast<const char *>(iov_[b.index].iov_base) + (s - b.base),
                    len, off, make_tag(f->id_, seq, b.index, len)});
    b.in_flight++;
    off += len;
    bytes += len;
  }
  f->submitted_ = std::max(f->submitted_, f->unit_end_);
  if (last && !f->fsynced_) ops_.push_back({IoOp::kFsync, f->fd_, -1, nullptr, 0, 0, make_tag(f->id_, seq, -1, 0)});
  if (ops_.empty()) return false;
  f->chains_.push_back({seq, int(ops_.size()), bytes, 0});
  f->next_seq_ = (seq + 1) & kSeqMask;
  f->queued_end_ = off;
  in_flight_bytes_ += bytes;
  stats_.chains++;
  int64_t limit = opts_.inject_enospc_after;
  if (limit >= 0 && bytes > 0 && disk_bytes_ + in_flight_bytes_ > uint64_t(limit)) {
    for (size_t i = 0; i < ops_.size(); ++i) synthetic_.push_back({ops_[i].tag, i == 0 ? -ENOSPC : -ECANCELED});
    return false;
  }
  backend_->queue(ops_.data(), ops_.size());
  return false;
}

bool Writer::Impl::submit(uint64_t sleep_until_ns) {
  size_t before = stats_.chains;
  bool waiting = false;  // units held back behind chains in flight: collect those now
  for (auto &[id, f] : files_) waiting |= queue_chain(f.get());
  bool queued = stats_.chains != before;
  if (queued) stats_.submits++;
  backend_->submit(sleep_until_ns, waiting);
  reap(false);
  return queued;
}

void Writer::Impl::reap(bool wait) {
  done_.clear();
  if (!synthetic_.empty()) {
    done_.swap(synthetic_);
    wait = false;
  }
  backend_->reap(done_, wait);
  process(done_);
}

void Writer::Impl::process(const std::vector<IoCompletion> &done) {
  completions_ += done.size();
  for (const IoCompletion &c : done) {
    auto it = files_.find(uint32_t(c.tag >> 48) & kIdMask);
    if (it == files_.end()) continue;
    File *f = it->second.get();
    uint32_t seq = uint32_t(c.tag >> 44) & kSeqMask;
    int buf = int((c.tag >> 32) & 0xfff) - 1;
    uint32_t len = uint32_t(c.tag);
    bool ok;
    if (buf >= 0) {
      for (auto &b : f->bufs_)
        if (b.index == buf && b.in_flight > 0) {
          b.in_flight--;
          break;
        }
      ok = c.result == int64_t(len);
    } else {
      ok = c.result == 0;
      if (c.result != -ECANCELED) {
        f->fsynced_ = true;  // an fsync that ran and failed cannot be helped by retrying
        if (!ok) fprintf(stderr, "loggerd: fsync of %s failed: %s\n", f->path_.c_str(), strerror(int(-c.result)));
      }
    }
    auto chain = std::find_if(f->chains_.begin(), f->chains_.end(), [&](const File::Chain &ch) { return ch.seq == seq; });
    if (chain == f->chains_.end()) continue;
    if (!ok && chain->error == 0) chain->error = c.result < 0 ? int(-c.result) : ENOSPC;  // a short write to a file means no space
    chain->ops_left--;
    retire_chains(f);
  }
}

// Retires the file's finished chains in queue order: their bytes are on disk,
// or dropped from the first failed chain on. Once a failure's chains are all
// back, the file is cut to the end of the last good one.
void Writer::Impl::retire_chains(File *f) {
  while (!f->chains_.empty() && f->chains_.front().ops_left == 0) {
    File::Chain c = f->chains_.front();
    f->chains_.pop_front();
    in_flight_bytes_ -= c.bytes;
    if (c.error == 0 && !f->discarding_) {
      f->disk_end_ += c.bytes;
      disk_bytes_ += c.bytes;
      stats_.bytes_written += c.bytes;
      continue;
    }
    if (c.bytes == 0) continue;  // a failed fsync-only chain: nothing to cut
    stats_.bytes_dropped += c.bytes;
    f->discarding_ = true;
    if (c.error == 0) continue;
    if (f->dependent_ && !f->gap_open_) {
      f->gap_open_ = true;
      f->gaps_++;
    }
    stats_.write_errors++;
    stats_.last_errno = c.error;
    if (stats_.write_errors == 1 || stats_.write_errors % 100 == 0)
      fprintf(stderr, "loggerd: write to %s failed (%s): dropped %llu bytes, file kept at %llu bytes (%llu failed writes so far)\n",
              f->path_.c_str(), strerror(c.error), (unsigned long long)c.bytes, (unsigned long long)f->disk_end_,
              (unsigned long long)stats_.write_errors);
  }
  if (f->discarding_ && f->chains_.empty()) {
    // Cut whatever part of the failed chains landed, so the file ends with a whole unit.
    if (ftruncate(f->fd_, off_t(f->disk_end_)) != 0)
      fprintf(stderr, "loggerd: ftruncate %s to %llu failed: %s\n", f->path_.c_str(), (unsigned long long)f->disk_end_, strerror(errno));
    f->queued_end_ = f->disk_end_;
    f->discarding_ = false;
  }
  release_buffers(f);
  if (f->closing_ && f->fsynced_ && f->submitted_ == f->appended_ && f->chains_.empty()) finalize(f);
}

void Writer::Impl::release_buffers(File *f) {
  while (!f->bufs_.empty()) {
    auto &b = f->bufs_.front();
    bool last = f->bufs_.size() == 1;
    bool done = b.base + b.filled <= f->submitted_ && b.in_flight == 0;
    if (!done || (last && !f->closing_ && b.filled < opts_.buffer_size)) break;
    free_.push_back(b.index);
    f->bufs_.pop_front();
  }
}

void Writer::Impl::finalize(File *f) {
  release_buffers(f);
  ::close(f->fd_);
  unlink(f->lock_path_.c_str());
  ::close(f->lock_fd_);
  auto cb = std::move(f->on_closed_);
  files_.erase(f->id_);
  if (cb) cb();
}

uint64_t Writer::Impl::pending_bytes() const {
  uint64_t n = in_flight_bytes_;
  for (auto &[id, f] : files_) n += f->appended_ - f->submitted_;
  return n;
}

void Writer::Impl::drain() {
  for (;;) {
    submit();
    bool busy = backend_->in_flight() > 0 || !synthetic_.empty();
    bool closing = false;
    for (auto &[id, f] : files_) closing |= f->closing_;
    if (!busy && !closing) return;
    if (!busy) continue;  // a closing file still has its fsync to queue
    reap(true);
  }
}

Writer::Writer(WriterOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
Writer::~Writer() = default;
AppendFile *Writer::open(const std::string &path, bool dependent_units) { return impl_->open(path, dependent_units); }
void Writer::close(AppendFile *f, std::function<void()> on_closed) {
  impl_->close(static_cast<Impl::File *>(f), std::move(on_closed));
}
bool Writer::submit(uint64_t sleep_until_ns) { return impl_->submit(sleep_until_ns); }
void Writer::drain() { impl_->drain(); }
const WriterStats &Writer::stats() const { return impl_->stats_; }
const char *Writer::backend_name() const { return impl_->backend_->name(); }
size_t Writer::open_files() const { return impl_->files_.size(); }
size_t Writer::free_buffers() const { return impl_->free_.size(); }
bool Writer::low_on_buffers() const { return impl_->free_.size() * 4 < impl_->opts_.buffer_count; }
uint64_t Writer::pending_bytes() const { return impl_->pending_bytes(); }

}  // namespace loggerd
