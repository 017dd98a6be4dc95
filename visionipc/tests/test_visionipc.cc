// Server and client across processes: integrity under slow and fast consumers
// with exact drop accounting, crash of a holding client, server restart, two
// streams, misbehaving peers, forged announcements, permissions.
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/clock.h"
#include "common/prefix.h"
#include "visionipc/announcement.h"
#include "visionipc/handshake.h"
#include "visionipc/tests/frame_pattern.h"
#include "common/testing/prefix.h"
#include "common/testing/wait.h"
#include "visionipc/visionipc_client.h"
#include "visionipc/visionipc_server.h"

using namespace visionipc_test;
using testutil::PrefixTest;
using testutil::wait_for;
using visionipc::Error;

namespace {

constexpr uint64_t kGenerousNs = 20'000'000'000ull;  // bound for waits, never hit when healthy

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

template <typename T>
T *shared_struct() {
  void *p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap");
  return new (p) T{};
}

int exit_code(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A server process that sends frames (ids from first_frame on) until killed.
pid_t fork_producer(const char *name, uint32_t first_frame, size_t buffers) {
  pid_t pid = fork();
  if (pid == 0) {
    VisionIpcServer server(name);
    server.create_buffers(VISION_STREAM_ROAD, buffers, 320, 240);
    server.start_listener();
    for (uint32_t f = first_frame;; f++) {
      if (VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD)) {
        write_frame(b, f);
        VisionIpcBufExtra extra{f, conduit::mono_ns(), conduit::mono_ns(), true};
        server.send(b, &extra);
      }
      sleep_ms(2);
    }
  }
  return pid;
}

class VisionIpc : public PrefixTest {};

}  // namespace

struct ConsumerReport {
  std::atomic<uint64_t> received, dropped, rejected, bad, done;
};
struct IntegrityShared {
  std::atomic<uint64_t> sent_total;  // set when the producer is finished
  std::atomic<int> stop_holder;
  ConsumerReport consumers[3];
};

// Consumer modes: 0 = fast, 1 = slow (sleeps while holding), 2 = conflate + slow.
static int consume(IntegrityShared *sh, int mode) {
  VisionIpcClient client("integrity", VISION_STREAM_ROAD, mode == 2);
  client.connect(true);
  ConsumerReport &rep = sh->consumers[mode];
  uint64_t end = conduit::mono_ns() + kGenerousNs * 3;
  for (;;) {
    uint64_t sent = sh->sent_total.load();
    if (sent && rep.received + client.dropped() >= sent) break;
    if (conduit::mono_ns() > end) return 2;
    VisionIpcBufExtra extra;
    VisionBuf *b = client.recv(&extra, 50);
    if (!b) continue;
    rep.received++;
    if (!check_frame(b, extra.frame_id)) rep.bad++;
    if (mode != 0) {
      sleep_ms(3);
      if (!check_frame(b, extra.frame_id)) rep.bad++;  // overwritten while held?
    }
    rep.dropped = client.dropped();
  }
  rep.dropped = client.dropped();
  rep.rejected = client.rejected();
  return 0;
}

TEST_F(VisionIpc, IntegrityWithSlowAndFastConsumersAndExactDropCounts) {
  auto *sh = shared_struct<IntegrityShared>();
  pid_t kids[4];
  for (int mode = 0; mode < 3; mode++) {
    if ((kids[mode] = fork()) == 0) _exit(consume(sh, mode));
  }
  // A fourth client takes a frame and keeps it for the whole run, so with 3
  // buffers the slow consumers' holds force the producer to drop.
  if ((kids[3] = fork()) == 0) {
    VisionIpcClient holder("integrity", VISION_STREAM_ROAD, false);
    holder.connect(true);
    VisionIpcBufExtra extra;
    VisionBuf *b = nullptr;
    while (!b && !sh->stop_holder) b = holder.recv(&extra, 50);
    bool ok = b && check_frame(b, extra.frame_id);
    while (!sh->stop_holder) sleep_ms(5);
    _exit(ok && check_frame(b, extra.frame_id) ? 0 : 3);
  }

  VisionIpcServer server("integrity");
  server.create_buffers(VISION_STREAM_ROAD, 3, 640, 480);
  server.start_listener();
  ASSERT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == 4; }));
  constexpr uint32_t kAttempts = 400;
  for (uint32_t f = 1; f <= kAttempts; f++) {
    if (VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD)) {
      write_frame(b, f);
      VisionIpcBufExtra extra{f, 1, 2, true};
      server.send(b, &extra);
    }
    sleep_ms(1);
  }
  uint64_t sent = server.frames_sent(VISION_STREAM_ROAD);
  sh->sent_total = sent;
  for (int mode = 0; mode < 3; mode++) EXPECT_EQ(exit_code(kids[mode]), 0) << "consumer " << mode;
  sh->stop_holder = 1;
  EXPECT_EQ(exit_code(kids[3]), 0) << "the long holder's frame changed under it";

  EXPECT_EQ(sent + server.dropped_frames(VISION_STREAM_ROAD), kAttempts);
  for (int mode = 0; mode < 3; mode++) {
    ConsumerReport &r = sh->consumers[mode];
    SCOPED_TRACE("consumer " + std::to_string(mode));
    EXPECT_EQ(r.bad.load(), 0u) << "torn or overwritten frames";
    EXPECT_EQ(r.received + r.dropped, sent) << "every announced frame is either received or counted as dropped";
    EXPECT_EQ(r.rejected.load(), 0u);
    EXPECT_GT(r.received.load(), 0u);
  }
  // While a slow consumer sleeps on its buffer the producer makes several attempts:
  // each either finds every buffer held (a producer drop) or overwrites the other
  // free buffer again (a drop for the slow consumer). Which one depends on timing.
  EXPECT_GT(server.dropped_frames(VISION_STREAM_ROAD) + sh->consumers[1].dropped + sh->consumers[2].dropped, 0u)
      << "the run never exercised dropping";
  // All clients are gone: every hold was given back.
  EXPECT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == 0; }));
  for (size_t i = 0; i < 3; i++) EXPECT_EQ(server.holders(VISION_STREAM_ROAD, i), 0u);
}

TEST_F(VisionIpc, SigkilledHolderGivesBuffersBackAtSocketClose) {
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = fork();
  if (child == 0) {
    VisionIpcClient client("killme", VISION_STREAM_ROAD, false);
    client.connect(true);
    VisionBuf *b = nullptr;
    while (!b) b = client.recv(nullptr, 50);
    char c = 'h';
    if (write(pipefd[1], &c, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  VisionIpcServer server("killme");
  server.create_buffers(VISION_STREAM_ROAD, 1, 320, 240);
  server.start_listener();
  ASSERT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == 1; }));
  VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD);
  ASSERT_NE(b, nullptr);
  write_frame(b, 1);
  server.send(b, nullptr);
  char c;
  ASSERT_EQ(read(pipefd[0], &c, 1), 1);
  EXPECT_EQ(server.holders(VISION_STREAM_ROAD, 0), 1u);
  EXPECT_EQ(server.get_buffer(VISION_STREAM_ROAD), nullptr) << "handed out a held buffer";
  EXPECT_EQ(server.dropped_frames(VISION_STREAM_ROAD), 1u);

  kill(child, SIGKILL);
  EXPECT_EQ(exit_code(child), 128 + SIGKILL);
  // The socket close is the only signal: no lease, no timeout.
  ASSERT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == 0; }));
  EXPECT_EQ(server.holders(VISION_STREAM_ROAD, 0), 0u);
  EXPECT_NE(server.get_buffer(VISION_STREAM_ROAD), nullptr);
  close(pipefd[0]);
  close(pipefd[1]);
}

TEST_F(VisionIpc, ClientReconnectsToARestartedServer) {
  pid_t first = fork_producer("restart", 1000, 4);
  VisionIpcClient client("restart", VISION_STREAM_ROAD, false);
  ASSERT_TRUE(client.connect(true));
  uint64_t first_id = client.server_id();
  VisionIpcBufExtra extra;
  int got = 0;
  while (got < 5) {
    VisionBuf *b = client.recv(&extra, 100);
    if (!b) continue;
    ASSERT_GE(extra.frame_id, 1000u);
    ASSERT_TRUE(check_frame(b, extra.frame_id));
    got++;
  }
  kill(first, SIGKILL);
  EXPECT_EQ(exit_code(first), 128 + SIGKILL);
  pid_t second = fork_producer("restart", 50000, 4);
  bool from_second = false;
  uint64_t end = conduit::mono_ns() + kGenerousNs;
  while (!from_second && conduit::mono_ns() < end) {
    VisionBuf *b = client.recv(&extra, 100);
    if (b && extra.frame_id >= 50000) {
      from_second = true;
      EXPECT_TRUE(check_frame(b, extra.frame_id));
    }
  }
  EXPECT_TRUE(from_second) << "no frame from the restarted server; last error: " << client.last_error();
  EXPECT_TRUE(client.connected);
  EXPECT_NE(client.server_id(), first_id);
  EXPECT_GE(client.reconnects(), 1u);
  kill(second, SIGKILL);
  exit_code(second);
}

// Two streams in two layouts: road NV12, wide I420 (each client learns its own).
TEST_F(VisionIpc, TwoStreamsAtOnce) {
  VisionIpcServer server("two");
  server.create_buffers(VISION_STREAM_ROAD, 3, 640, 480);
  server.create_buffers(VISION_STREAM_WIDE_ROAD, 2, 320, 240, conduit::PixelFormat::kI420);
  server.start_listener();
  auto streams = VisionIpcClient::getAvailableStreams("two", false);
  EXPECT_EQ(streams, (std::set<VisionStreamType>{VISION_STREAM_ROAD, VISION_STREAM_WIDE_ROAD}));

  VisionIpcClient road("two", VISION_STREAM_ROAD, false), wide("two", VISION_STREAM_WIDE_ROAD, false);
  ASSERT_TRUE(road.connect(false));
  ASSERT_TRUE(wide.connect(false));
  EXPECT_EQ(road.num_buffers, 3u);
  EXPECT_EQ(wide.num_buffers, 2u);
  EXPECT_EQ(road.buffers[0].layout, visionipc::buffer_layout(conduit::PixelFormat::kNv12, 640, 480).frame);
  EXPECT_EQ(wide.buffers[0].layout, visionipc::buffer_layout(conduit::PixelFormat::kI420, 320, 240).frame);
  for (uint32_t f = 1; f <= 5; f++) {
    for (VisionStreamType t : {VISION_STREAM_ROAD, VISION_STREAM_WIDE_ROAD}) {
      VisionBuf *b = server.get_buffer(t);
      ASSERT_NE(b, nullptr);
      uint32_t id = t == VISION_STREAM_ROAD ? f : 100 + f;
      write_frame(b, id);
      VisionIpcBufExtra extra{id, 0, 0, true};
      server.send(b, &extra);
    }
    VisionIpcBufExtra er, ew;
    VisionBuf *br = road.recv(&er, 5000), *bw = wide.recv(&ew, 5000);
    ASSERT_NE(br, nullptr);
    ASSERT_NE(bw, nullptr);
    EXPECT_EQ(er.frame_id, f);
    EXPECT_EQ(ew.frame_id, 100 + f);
    EXPECT_EQ(br->width(), 640u);
    EXPECT_EQ(bw->width(), 320u);
    EXPECT_TRUE(check_frame(br, f));
    EXPECT_TRUE(check_frame(bw, 100 + f));
  }
  EXPECT_EQ(road.dropped() + wide.dropped(), 0u);
}

TEST_F(VisionIpc, SocketIsOwnerOnly) {
  VisionIpcServer server("perms");
  server.create_buffers(VISION_STREAM_ROAD, 1, 64, 64);
  server.start_listener();
  struct stat st;
  ASSERT_EQ(stat(conduit::socket_path("vipc_perms").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(conduit::shm_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  // A second server of the same name is refused while the first lives.
  VisionIpcServer twin("perms");
  EXPECT_THROW(twin.start_listener(), Error);
}

namespace {

int raw_connect_path(const std::string &path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int raw_connect(const std::string &server) { return raw_connect_path(conduit::socket_path("vipc_" + server)); }

// The server's answer to a raw request: its refusal text, or "" if it just closed.
std::string refusal(int fd) {
  visionipc::Reply r = {};
  try {
    if (!visionipc::recv_packet(fd, &r, sizeof(r), nullptr, 5000)) return "";
  } catch (const Error &e) {
    return std::string("bad reply: ") + e.what();
  }
  return r.status == 0 ? "accepted" : std::string(r.error);
}

}  // namespace

TEST_F(VisionIpc, MisbehavingClientsAreRefusedAndOthersServed) {
  VisionIpcServer server("strict");
  server.create_buffers(VISION_STREAM_ROAD, 2, 64, 64);
  server.start_listener();

  int garbage = raw_connect("strict");
  ASSERT_GE(garbage, 0);
  ASSERT_EQ(send(garbage, "hello there", 11, 0), 11);
  EXPECT_NE(refusal(garbage).find("expected " + std::to_string(sizeof(visionipc::Request))), std::string::npos);
  close(garbage);

  int bad_magic = raw_connect("strict");
  visionipc::Request req = {0xdeadbeef, 1, 1, 0};
  ASSERT_EQ(send(bad_magic, &req, sizeof(req), 0), ssize_t(sizeof(req)));
  EXPECT_NE(refusal(bad_magic).find("bad request header"), std::string::npos);
  close(bad_magic);

  // Gone before or right after the request: nothing must leak or wedge.
  close(raw_connect("strict"));
  int half = raw_connect("strict");
  req = {visionipc::kHandshakeMagic, visionipc::kHandshakeVersion, 1, 0};
  ASSERT_EQ(send(half, &req, sizeof(req), 0), ssize_t(sizeof(req)));
  close(half);

  VisionIpcClient unknown("strict", VISION_STREAM_DRIVER, false);
  EXPECT_FALSE(unknown.connect(false));
  EXPECT_NE(unknown.last_error().find("unknown stream 1"), std::string::npos) << unknown.last_error();

  EXPECT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == 0; }));
  EXPECT_GE(server.refused_connections(), 3u);
  EXPECT_EQ(server.holders(VISION_STREAM_ROAD, 0) | server.holders(VISION_STREAM_ROAD, 1), 0u);

  VisionIpcClient good("strict", VISION_STREAM_ROAD, false);
  ASSERT_TRUE(good.connect(false));
  VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD);
  ASSERT_NE(b, nullptr);
  write_frame(b, 9);
  VisionIpcBufExtra extra{9, 0, 0, true};
  server.send(b, &extra);
  VisionIpcBufExtra got;
  VisionBuf *rb = good.recv(&got, 5000);
  ASSERT_NE(rb, nullptr);
  EXPECT_EQ(got.frame_id, 9u);
  EXPECT_TRUE(check_frame(rb, 9));
}

TEST_F(VisionIpc, SilentPeerIsDroppedAfterTheHandshakeTimeout) {
  VisionIpcServer server("silent");
  server.create_buffers(VISION_STREAM_ROAD, 1, 64, 64);
  server.start_listener();
  int fd = raw_connect("silent");
  ASSERT_GE(fd, 0);
  EXPECT_NE(refusal(fd).find("no request within"), std::string::npos);
  close(fd);
  EXPECT_EQ(server.refused_connections(), 1u);
}

TEST_F(VisionIpc, ClientSlotsAreLimitedAndReused) {
  VisionIpcServer server("slots");
  server.create_buffers(VISION_STREAM_ROAD, 2, 64, 64);
  server.start_listener();
  std::vector<std::unique_ptr<VisionIpcClient>> clients;
  for (int i = 0; i < visionipc::kMaxClientsPerStream; i++) {
    clients.push_back(std::make_unique<VisionIpcClient>("slots", VISION_STREAM_ROAD, false));
    ASSERT_TRUE(clients.back()->connect(false)) << i << ": " << clients.back()->last_error();
  }
  VisionIpcClient extra("slots", VISION_STREAM_ROAD, false);
  EXPECT_FALSE(extra.connect(false));
  EXPECT_NE(extra.last_error().find("all 32 client slots"), std::string::npos) << extra.last_error();
  clients.pop_back();
  ASSERT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == visionipc::kMaxClientsPerStream - 1; }));
  EXPECT_TRUE(extra.connect(false)) << extra.last_error();
}

TEST_F(VisionIpc, PeerWithAnotherUidIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  VisionIpcServer server("uid");
  server.create_buffers(VISION_STREAM_ROAD, 1, 64, 64);
  server.start_listener();
  // Open the socket file up so only SO_PEERCRED stands in the way.
  std::string dir = conduit::shm_dir(), path = conduit::socket_path("vipc_uid");
  ASSERT_EQ(chmod(dir.c_str(), 0711), 0);
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    int fd = raw_connect_path(path);  // conduit::socket_path() refuses a directory that is not ours
    if (fd < 0) _exit(3);
    visionipc::Request req = {visionipc::kHandshakeMagic, visionipc::kHandshakeVersion, 1, 0};
    send(fd, &req, sizeof(req), 0);
    std::string why = refusal(fd);
    if (write(pipefd[1], why.c_str(), why.size()) < 0) _exit(4);
    _exit(0);
  }
  close(pipefd[1]);
  EXPECT_EQ(exit_code(child), 0);
  char text[300] = {};
  ASSERT_GT(read(pipefd[0], text, sizeof(text) - 1), 0);
  close(pipefd[0]);
  EXPECT_NE(std::string(text).find("peer uid 65534"), std::string::npos) << text;
  EXPECT_EQ(server.num_clients(VISION_STREAM_ROAD), 0);
  chmod(dir.c_str(), 0700);
}

TEST_F(VisionIpc, ForgedAnnouncementsAreRejected) {
  pid_t producer = fork_producer("forge", 1, 2);
  VisionIpcClient client("forge", VISION_STREAM_ROAD, false);
  ASSERT_TRUE(client.connect(true));
  VisionIpcBufExtra extra;
  VisionBuf *b = nullptr;
  while (!b) b = client.recv(&extra, 100);
  kill(producer, SIGKILL);
  exit_code(producer);
  uint64_t rejected_before = client.rejected(), dropped_before = client.dropped();

  // Take over the dead server's topic and lie to the client, using its server id.
  auto pub = msgq::PubSocket::create(visionipc::announce_topic("forge", VISION_STREAM_ROAD), visionipc::kAnnounceRingSize, /*local=*/true);
  visionipc::Announcement a = {};
  a.magic = visionipc::kAnnouncementMagic;
  a.server_id = client.server_id();
  a.frame_id = 0xabcdef;
  a.buffer_idx = 999;  // out of range
  pub->send(&a, sizeof(a));
  a.buffer_idx = 2;  // == num_buffers: just out of range
  pub->send(&a, sizeof(a));
  a.buffer_idx = 0;
  a.magic = 0x12345678;
  pub->send(&a, sizeof(a));
  pub->send("short", 5);
  // A valid index with a generation the buffer never had cannot be held.
  a.magic = visionipc::kAnnouncementMagic;
  a.generation = 0xfffffff0;
  pub->send(&a, sizeof(a));

  // Real frames still in the ring come out whole; the forged ones never do.
  while ((b = client.recv(&extra, 300))) {
    EXPECT_NE(extra.frame_id, 0xabcdefu) << "a forged announcement was delivered";
    EXPECT_TRUE(check_frame(b, extra.frame_id));
  }
  EXPECT_EQ(client.rejected() - rejected_before, 4u);
  EXPECT_GE(client.dropped() - dropped_before, 1u);
}

TEST_F(VisionIpc, BadArgumentsThrowClearErrors) {
  VisionIpcServer server("args");
  EXPECT_THROW(server.create_buffers(VISION_STREAM_ROAD, 0, 640, 480), Error);
  EXPECT_THROW(server.create_buffers(VISION_STREAM_ROAD, 65, 640, 480), Error);
  EXPECT_THROW(server.create_buffers(VISION_STREAM_ROAD, 2, 641, 480), Error);
  EXPECT_THROW(server.create_buffers(VisionStreamType(99), 2, 640, 480), Error);
  EXPECT_THROW(server.get_buffer(VISION_STREAM_ROAD), Error);
  server.create_buffers(VISION_STREAM_ROAD, 2, 640, 480);
  EXPECT_THROW(server.create_buffers(VISION_STREAM_ROAD, 2, 640, 480), Error);
  EXPECT_THROW(server.send(nullptr, nullptr), Error);
  VisionBuf foreign;
  foreign.allocate(visionipc::buffer_layout(conduit::PixelFormat::kNv12, 640, 480), "foreign");
  EXPECT_THROW(server.send(&foreign, nullptr), Error);
  VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD);
  ASSERT_NE(b, nullptr);
  server.send(b, nullptr);
  EXPECT_THROW(server.send(b, nullptr), Error) << "a second send of a buffer without get_buffer()";
  EXPECT_THROW(VisionIpcServer("bad/name"), std::invalid_argument);
  VisionIpcClient nobody("nobody", VISION_STREAM_ROAD, false);
  EXPECT_FALSE(nobody.connect(false));
  EXPECT_EQ(nobody.recv(nullptr, 10), nullptr);
  EXPECT_TRUE(VisionIpcClient::getAvailableStreams("nobody", false).empty());
}

namespace {

// Processes that keep `per_process` connections to `server` open without ever
// sending a request, reconnecting whenever the server drops one, until the
// IdleFlood goes (they are killed and reaped then). The children make only
// system calls (the parent has threads).
struct IdleFlood {
  std::vector<pid_t> pids;

  IdleFlood(const std::string &server, int processes, int per_process) {
    std::string path = conduit::socket_path("vipc_" + server);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    per_process = std::min(per_process, 64);
    for (int p = 0; p < processes; p++) {
      pid_t pid = fork();
      if (pid == 0) {
        pollfd fds[64];
        for (int i = 0; i < per_process; i++) fds[i] = {-1, POLLIN, 0};
        for (;;) {
          for (int i = 0; i < per_process; i++) {
            if (fds[i].fd >= 0) continue;
            int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
            if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0) {
              fds[i].fd = fd;
            } else {
              close(fd);
            }
          }
          poll(fds, nfds_t(per_process), 1);
          for (int i = 0; i < per_process; i++) {
            if (fds[i].fd >= 0 && fds[i].revents) {
              close(fds[i].fd);
              fds[i].fd = -1;
            }
          }
        }
      }
      pids.push_back(pid);
    }
  }
  ~IdleFlood() {
    for (pid_t p : pids) kill(p, SIGKILL);
    for (pid_t p : pids) waitpid(p, nullptr, 0);
  }
};

// A well-behaved client of `server` while a flood is on: connected at its
// first attempt and given a frame.
void expect_served_at_once(VisionIpcServer &server, const std::string &name) {
  VisionIpcClient good(name, VISION_STREAM_ROAD, false);
  ASSERT_TRUE(good.connect(false)) << good.last_error();
  VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD);
  ASSERT_NE(b, nullptr);
  write_frame(b, 5);
  VisionIpcBufExtra extra{5, 0, 0, true};
  server.send(b, &extra);
  VisionIpcBufExtra got;
  VisionBuf *rb = good.recv(&got, 5000);
  ASSERT_NE(rb, nullptr);
  EXPECT_EQ(got.frame_id, 5u);
  EXPECT_TRUE(check_frame(rb, 5));
  EXPECT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == 1; }))
      << server.num_clients(VISION_STREAM_ROAD);
}

}  // namespace

// Idle connections cost each peer only its own share, and a flood of them
// cannot keep the listener from answering: with 20 processes holding 20
// connections each, reconnecting as soon as they are refused, a new client is
// served at its first attempt (a listener that accepted all it could before
// answering would keep accepting for as long as the flood kept up with it).
TEST_F(VisionIpc, IdleConnectionFloodDoesNotLockOutClients) {
  VisionIpcServer server("flood");
  server.create_buffers(VISION_STREAM_ROAD, 2, 64, 64);
  server.start_listener();
  IdleFlood flood("flood", 20, 20);
  // Refusals prove the flood is on: 400 connections against 4 per peer and 64 in all.
  ASSERT_TRUE(wait_for([&] { return server.refused_connections() > 500; }));
  expect_served_at_once(server, "flood");
}

// More peers than handshake places, one idle connection each: a newcomer takes
// the place of the oldest of them rather than being refused for as long as
// they keep every place.
TEST_F(VisionIpc, IdlePeersOutnumberingThePlacesDoNotLockOutClients) {
  VisionIpcServer server("crowd");
  server.create_buffers(VISION_STREAM_ROAD, 2, 64, 64);
  server.start_listener();
  IdleFlood crowd("crowd", visionipc::kMaxPendingConnections + 16, 1);
  // Refusals prove every place is taken and more peers want one.
  ASSERT_TRUE(wait_for([&] { return server.refused_connections() > 100; }));
  expect_served_at_once(server, "crowd");
}

// A client that scribbles over every byte it can map writable and then claims
// to hold every buffer never stalls the producer: its holds are ignored, it is
// disconnected, and a well-behaved client keeps getting whole frames.
TEST_F(VisionIpc, ClientScribblingSharedStateCannotStallTheProducer) {
  constexpr size_t kBuffers = 4;
  VisionIpcServer server("scribble");
  server.create_buffers(VISION_STREAM_ROAD, kBuffers, 64, 64);
  server.start_listener();

  int hostile = raw_connect("scribble");
  ASSERT_GE(hostile, 0);
  visionipc::Request req = {visionipc::kHandshakeMagic, visionipc::kHandshakeVersion,
                            uint32_t(visionipc::RequestKind::kConnect), VISION_STREAM_ROAD};
  ASSERT_EQ(send(hostile, &req, sizeof(req), 0), ssize_t(sizeof(req)));
  visionipc::Reply r = {};
  std::vector<visionipc::UniqueFd> fds;
  ASSERT_TRUE(visionipc::recv_packet(hostile, &r, sizeof(r), &fds, 5000));
  ASSERT_EQ(r.status, 0) << r.error;
  ASSERT_EQ(fds.size(), kBuffers + 2);
  int writable = 0;
  for (int i = 0; i < 2; i++) {  // the control block and the hold page
    void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i].get(), 0);
    if (p == MAP_FAILED) continue;
    memset(p, 0xff, 4096);
    munmap(p, 4096);
    writable++;
  }
  EXPECT_EQ(writable, 1) << "only the client's own hold page is writable";
  visionipc::ControlBlock mine = visionipc::ControlBlock::attach(fds[0].release(), fds[1].release(), r.server_id, kBuffers);

  VisionIpcClient good("scribble", VISION_STREAM_ROAD, false);
  ASSERT_TRUE(good.connect(false)) << good.last_error();
  int produced = 0, stalled = 0, received = 0, greedy = 0;
  for (uint32_t f = 1; f <= 60; f++) {
    // The hostile client holds every buffer there is before each frame, never releasing.
    for (uint32_t i = 0; i < kBuffers; i++) greedy += mine.try_hold(i, mine.generation(i));
    VisionBuf *b = server.get_buffer(VISION_STREAM_ROAD);
    if (!b) {
      stalled++;
      continue;
    }
    write_frame(b, f);
    VisionIpcBufExtra extra{f, 0, 0, true};
    server.send(b, &extra);
    produced++;
    VisionIpcBufExtra got;
    if (VisionBuf *rb = good.recv(&got, 1000)) {
      received++;
      EXPECT_TRUE(check_frame(rb, got.frame_id)) << "frame " << got.frame_id;
    }
  }
  EXPECT_GT(greedy, 60) << "the hostile client held buffers";
  EXPECT_EQ(stalled, 0) << "the producer found no free buffer";
  EXPECT_EQ(produced, 60);
  EXPECT_EQ(received, 60);
  EXPECT_NE(refusal(hostile).find("held more than 2 buffers"), std::string::npos);
  EXPECT_TRUE(wait_for([&] { return server.num_clients(VISION_STREAM_ROAD) == 1; }));
  close(hostile);
}

// A device's buffers (memfds stand in for its DMA-BUFs): served in the device's
// own unpadded layout, claimed one by one, never while a client holds them.
TEST_F(VisionIpc, DeviceBuffersAreServedInTheirOwnLayout) {
  conduit::Yuv420Layout layout = conduit::yuv420_layout(conduit::PixelFormat::kNv12, 62, 30);  // stride 62: no padding
  VisionIpcServer server("devbufs");
  std::vector<visionipc::UniqueFd> fds;
  for (int i = 0; i < 3; i++) fds.push_back(std::move(visionipc::create_memfd("dev", layout.size()).fd));
  server.create_device_buffers(VISION_STREAM_ROAD, std::move(fds), layout);
  server.start_listener();
  VisionIpcClient client("devbufs", VISION_STREAM_ROAD, false);
  ASSERT_TRUE(client.connect(false)) << client.last_error();
  ASSERT_EQ(client.num_buffers, 3u);
  EXPECT_TRUE(client.buffers[0].layout == layout);
  EXPECT_EQ(client.buffers[0].memory_kind, visionipc::MemoryKind::kDeviceDmaBuf);

  VisionBuf *b = server.claim_buffer(VISION_STREAM_ROAD, 1);
  ASSERT_NE(b, nullptr);
  memset(b->addr, 0x5a, layout.size());
  VisionIpcBufExtra extra;
  extra.frame_id = 7;
  server.send(b, &extra);
  VisionBuf *got = client.recv(&extra, 1000);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->idx, 1u);
  EXPECT_EQ(extra.frame_id, 7u);
  EXPECT_EQ(got->v[size_t(layout.uv_stride) * 14 + 60], 0x5a);  // the last chroma row, where the device put it
  EXPECT_EQ(server.claim_buffer(VISION_STREAM_ROAD, 1), nullptr);  // held: the device must not get it
  client.release();
  EXPECT_NE(server.claim_buffer(VISION_STREAM_ROAD, 1), nullptr);
  server.count_dropped(VISION_STREAM_ROAD, 2);
  EXPECT_EQ(server.dropped_frames(VISION_STREAM_ROAD), 2u);
}

TEST_F(VisionIpc, DeviceBuffersTooSmallForTheirLayoutAreRefused) {
  conduit::Yuv420Layout layout = conduit::yuv420_layout(conduit::PixelFormat::kI420, 64, 32);
  VisionIpcServer server("devsmall");
  std::vector<visionipc::UniqueFd> fds;
  fds.push_back(std::move(visionipc::create_memfd("dev", layout.size() - 1).fd));
  try {
    server.create_device_buffers(VISION_STREAM_ROAD, std::move(fds), layout);
    FAIL();
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("layout needs " + std::to_string(layout.size())), std::string::npos) << e.what();
  }
}
