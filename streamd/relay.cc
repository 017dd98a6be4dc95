#include "streamd/relay.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace streamd {

namespace {
constexpr int kFeedPipeBytes = 1 << 20;  // the largest fragment that can be relayed
}

Relay::Relay(uint64_t stall_ns, int client_pipe_bytes, bool copy_per_client)
    : stall_ns_(stall_ns), client_pipe_bytes_(client_pipe_bytes), copy_(copy_per_client),
      page_(size_t(sysconf(_SC_PAGESIZE))) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("relay: pipe2 failed");
  feed_r_ = p[0];
  feed_w_ = p[1];
  fcntl(feed_w_, F_SETPIPE_SZ, kFeedPipeBytes);  // may be refused above pipe-max-size: fragments are small
  null_fd_ = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd_ < 0) throw std::runtime_error("relay: cannot open /dev/null");
}

Relay::~Relay() {
  for (auto &[sock, c] : clients_) {
    if (c.pipe_r >= 0) {
      close(c.pipe_r);
      close(c.pipe_w);
    }
  }
  close(feed_r_);
  close(feed_w_);
  close(null_fd_);
}

bool Relay::add(int sock) {
  if (copy_) {
    clients_[sock] = Client{sock, -1, -1, size_t(client_pipe_bytes_) / page_, {}, 0, true, 0, {}};
    return true;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  int size = fcntl(p[1], F_SETPIPE_SZ, client_pipe_bytes_);
  if (size < 0) size = fcntl(p[1], F_GETPIPE_SZ);
  clients_[sock] = Client{sock, p[0], p[1], size_t(size) / page_, {}, 0, true, 0, {}};
  return true;
}

void Relay::remove(int sock) {
  auto it = clients_.find(sock);
  if (it == clients_.end()) return;
  if (it->second.pipe_r >= 0) {
    close(it->second.pipe_r);
    close(it->second.pipe_w);
  }
  clients_.erase(it);
}

// A fragment written into an empty pipe fills whole pages from its start, and
// tee copies those page references as they are: fragment i takes
// ceil(len/page) slots, minus the pages already spliced out of it.
size_t Relay::slots_used(const Client &c) const {
  size_t n = 0;
  for (size_t i = 0; i < c.queued.size(); i++) {
    n += (c.queued[i] + page_ - 1) / page_;
    if (i == 0) n -= c.sent_of_front / page_;
  }
  return n;
}

bool Relay::fits(const Client &c, size_t bytes) const {
  if (copy_) return c.copy.size() + bytes <= c.slots * page_;
  return slots_used(c) + (bytes + page_ - 1) / page_ <= c.slots;
}

bool Relay::send_copy(Client &c, std::string_view data, uint64_t now_ns) {
  if (!c.copy.empty()) {
    c.copy.append(data);
    data = c.copy;
  }
  size_t sent = 0;
  while (sent < data.size()) {
    // write(), not send(): the same copy, and /proc/<pid>/io counts it (the benchmark reads that).
    ssize_t n = write(c.sock, data.data() + sent, data.size() - sent);
    if (n < 0) {
      if (errno != EAGAIN) return false;
      break;
    }
    sent += size_t(n);
    stats_.spliced_bytes += uint64_t(n);
    c.last_progress_ns = now_ns;
  }
  c.copy = std::string(data.substr(sent));
  return true;
}

bool Relay::drain(Client &c, uint64_t now_ns) {
  if (copy_) return send_copy(c, {}, now_ns);
  while (!c.queued.empty()) {
    ssize_t n = splice(c.pipe_r, nullptr, c.sock, nullptr, c.queued.front() - c.sent_of_front,
                       SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n < 0) return errno == EAGAIN;
    if (n == 0) return false;
    stats_.spliced_bytes += uint64_t(n);
    c.last_progress_ns = now_ns;
    c.sent_of_front += uint64_t(n);
    if (c.sent_of_front == c.queued.front()) {
      c.queued.pop_front();
      c.sent_of_front = 0;
    }
  }
  c.last_progress_ns = now_ns;
  return true;
}

std::vector<int> Relay::publish(std::string_view fragment, bool keyframe, uint64_t now_ns) {
  std::vector<int> dead, gone;
  ssize_t w = copy_ ? ssize_t(fragment.size()) : write(feed_w_, fragment.data(), fragment.size());
  if (w != ssize_t(fragment.size())) {  // larger than the feed pipe: nobody gets it
    if (w > 0) splice(feed_r_, nullptr, null_fd_, nullptr, size_t(w), SPLICE_F_NONBLOCK);
    stats_.skipped += clients_.size();
    return dead;
  }
  stats_.fragments++;
  stats_.fragment_bytes += fragment.size();
  for (auto &[sock, c] : clients_) {
    if (c.queued.empty() && c.copy.empty()) c.last_progress_ns = now_ns;  // an idle client is not a stall
    if ((c.waiting_for_keyframe && !keyframe) || !fits(c, fragment.size())) {
      c.waiting_for_keyframe = true;
      stats_.skipped++;
      continue;
    }
    c.waiting_for_keyframe = false;
    if (copy_) {
      stats_.teed_bytes += fragment.size();
      if (!send_copy(c, fragment, now_ns)) gone.push_back(sock);
      continue;
    }
    ssize_t t = tee(feed_r_, c.pipe_w, fragment.size(), SPLICE_F_NONBLOCK);
    if (t != ssize_t(fragment.size())) {  // a partial fragment would corrupt the stream
      dead.push_back(sock);
      continue;
    }
    stats_.teed_bytes += fragment.size();
    c.queued.push_back(fragment.size());
    if (!drain(c, now_ns)) gone.push_back(sock);
  }
  if (!copy_) splice(feed_r_, nullptr, null_fd_, nullptr, fragment.size(), SPLICE_F_NONBLOCK);
  stats_.dropped_clients += dead.size();
  stats_.gone_clients += gone.size();
  dead.insert(dead.end(), gone.begin(), gone.end());
  for (int s : dead) remove(s);
  return dead;
}

bool Relay::flush(int sock, uint64_t now_ns) {
  auto it = clients_.find(sock);
  if (it == clients_.end()) return true;
  if (drain(it->second, now_ns)) return true;
  stats_.gone_clients++;
  remove(sock);
  return false;
}

std::vector<int> Relay::expire(uint64_t now_ns) {
  std::vector<int> dead;
  for (auto &[sock, c] : clients_) {
    if ((!c.queued.empty() || !c.copy.empty()) && now_ns - c.last_progress_ns > stall_ns_) dead.push_back(sock);
  }
  for (int s : dead) {
    stats_.dropped_clients++;
    remove(s);
  }
  return dead;
}

}  // namespace streamd
