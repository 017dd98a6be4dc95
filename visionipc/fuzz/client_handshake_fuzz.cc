// libFuzzer target vipc_client: the input plays a hostile VisionIPC server.
//
//   Reply (sizeof(Reply) bytes)     the handshake reply, as sent
//   n (1 byte), n x size (4 bytes)  the fds sent with it: memfds of those sizes
//                                   (mod 4 MiB), the first one (the control
//                                   block) filled with the bytes that follow
//   the rest                        announcements (64 bytes each) on the stream's topic
//
// The client must refuse a bad reply with an error, reject bad announcements,
// and hand out only buffers it can read in full; never crash or hang.
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/prefix.h"
#include "common/testing/fuzz_prefix.h"
#include "msgq/msgq.h"
#include "visionipc/announcement.h"
#include "visionipc/handshake.h"
#include "visionipc/visionipc_client.h"

namespace {

const char kServer[] = "fuzzserver";

int listen_socket() {
  std::string path = conduit::socket_path(visionipc::socket_name(kServer));
  unlink(path.c_str());
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (s < 0 || bind(s, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 || listen(s, 4) != 0) abort();
  return s;
}

// Takes n bytes off the front of the input (fewer if it ends).
size_t take(const uint8_t *&data, size_t &size, void *dst, size_t n) {
  n = std::min(n, size);
  if (n) memcpy(dst, data, n);
  data += n;
  size -= n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int listener = [] {
    testutil::use_fuzz_prefix("vipc_client");
    return listen_socket();
  }();
  static auto announcer = msgq::PubSocket::create(visionipc::announce_topic(kServer, VISION_STREAM_ROAD),
                                                  visionipc::kAnnounceRingSize, /*local=*/true);

  visionipc::Reply reply = {};
  take(data, size, &reply, sizeof(reply));
  uint8_t n = 0;
  take(data, size, &n, 1);
  std::vector<int> fds;
  for (int i = 0; i < n % 10; i++) {
    uint32_t bytes = 0;
    take(data, size, &bytes, sizeof(bytes));
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, bytes % (4 << 20)) != 0) abort();
    fds.push_back(fd);
  }
  if (!fds.empty()) {
    std::vector<uint8_t> content(std::min<size_t>(size, 4096));
    take(data, size, content.data(), content.size());
    if (pwrite(fds[0], content.data(), content.size(), 0) < 0) abort();
  }

  int conn = -1;
  std::thread server([&] {
    conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    visionipc::Request request;
    if (conn >= 0 && visionipc::recv_packet(conn, &request, sizeof(request), nullptr, 1000)) {
      visionipc::send_packet(conn, &reply, sizeof(reply), fds);
    }
  });
  {
    VisionIpcClient client(kServer, VISION_STREAM_ROAD, false);
    const bool connected = client.connect(false);
    server.join();
    for (; size > 0; data += std::min<size_t>(size, 64), size -= std::min<size_t>(size, 64)) {
      announcer->send(data, std::min<size_t>(size, 64));
    }
    // Only while connected: a client that is not would dial again and wait for a reply.
    for (int i = 0; connected && client.connected && i < 4; i++) {
      VisionBuf *buf = client.recv(nullptr, 0);
      if (buf == nullptr) continue;
      volatile uint8_t first = buf->addr[0], last = buf->addr[buf->len - 1];
      (void)first;
      (void)last;
    }
  }
  if (conn >= 0) close(conn);
  for (int fd : fds) close(fd);
  return 0;
}
