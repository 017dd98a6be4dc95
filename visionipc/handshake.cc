#include "visionipc/handshake.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace visionipc {

namespace {
constexpr int kMaxFds = kMaxBuffersPerStream + 2;
}

void send_packet(int sock, const void *data, size_t len, const std::vector<int> &fds) {
  iovec iov = {const_cast<void *>(data), len};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    if (fds.size() > size_t(kMaxFds)) throw Error("too many fds for one packet: " + std::to_string(fds.size()));
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != ssize_t(len)) throw Error(std::string("sendmsg on VisionIPC socket: ") + (n < 0 ? strerror(errno) : "short write"));
}

bool recv_packet(int sock, void *data, size_t len, std::vector<UniqueFd> *fds, int timeout_ms) {
  pollfd pfd = {sock, POLLIN, 0};
  int r;
  do {
    r = poll(&pfd, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return false;

  iovec iov = {data, len};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  if (n < 0) throw Error(std::string("recvmsg on VisionIPC socket: ") + strerror(errno));

  // Take ownership of every fd first so none leaks on the error paths below.
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        UniqueFd owned(fd);
        if (fds) fds->push_back(std::move(owned));
      }
    }
  }
  if (n == 0) return false;
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    throw Error("VisionIPC packet truncated: expected " + std::to_string(len) + " bytes and at most " +
                std::to_string(kMaxFds) + " fds");
  }
  if (size_t(n) != len) {
    throw Error("VisionIPC packet of " + std::to_string(n) + " bytes, expected " + std::to_string(len));
  }
  return true;
}

}  // namespace visionipc
