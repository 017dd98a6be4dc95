// Frame memory and the control block, without a server: sealing, validation of
// received fds, and the claim/hold protocol under concurrent use.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "visionipc/control_block.h"
#include "visionipc/shared_memory.h"
#include "visionipc/visionbuf.h"

using namespace visionipc;

TEST(BufferLayout, Nv12StrideAndPlanesArePadded) {
  BufferLayout b = buffer_layout(conduit::PixelFormat::kNv12, 1928, 1208);
  const conduit::Yuv420Layout &l = b.frame;
  EXPECT_EQ(l.stride, 1984);                // multiple of 64
  EXPECT_EQ(l.u_offset, 1984u * 1216u);     // Y rows rounded to 16
  EXPECT_EQ(l.v_offset, l.u_offset + 1);    // interleaved
  EXPECT_EQ(l.uv_stride, 1984);
  EXPECT_EQ(l.uv_step, 2);
  EXPECT_EQ(b.len % 4096, 0u);
  EXPECT_GE(b.len, l.u_offset + 1984u * 608u);
  EXPECT_THROW(buffer_layout(conduit::PixelFormat::kNv12, 641, 480), Error);
  EXPECT_THROW(buffer_layout(conduit::PixelFormat::kNv12, 0, 480), Error);
  EXPECT_THROW(buffer_layout(conduit::PixelFormat::kI420, 640, 40000), Error);
}

TEST(BufferLayout, I420PlanesArePaddedAndApart) {
  BufferLayout nv12 = buffer_layout(conduit::PixelFormat::kNv12, 1928, 1208);
  BufferLayout b = buffer_layout(conduit::PixelFormat::kI420, 1928, 1208);
  const conduit::Yuv420Layout &l = b.frame;
  EXPECT_EQ(l.stride, 1984);
  EXPECT_EQ(l.uv_stride, 992);               // half the luma stride: 32-byte aligned rows
  EXPECT_EQ(l.uv_step, 1);
  EXPECT_EQ(l.u_offset, 1984u * 1216u);
  EXPECT_EQ(l.v_offset, l.u_offset + 992u * 608u);
  EXPECT_EQ(b.len, nv12.len);                // same bytes, arranged differently
  EXPECT_LE(l.size(), b.len);
  EXPECT_NO_THROW(l.validate("test"));
}

TEST(SharedMemory, MemfdIsSealedAgainstResize) {
  SharedMemory m = create_memfd("seal_test", 8192);
  EXPECT_EQ(lseek(m.fd.get(), 0, SEEK_END), 8192);
  EXPECT_NE(ftruncate(m.fd.get(), 4096), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(ftruncate(m.fd.get(), 1 << 20), 0);
  int seals = fcntl(m.fd.get(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}

TEST(SharedMemory, FrameMemoryKindMatchesTheMachine) {
  SharedMemory m = allocate_frame_memory("kind_test", 4096);
  bool heap = access("/dev/dma_heap/system", R_OK | W_OK) == 0;
  EXPECT_EQ(m.kind, heap ? MemoryKind::kDmaHeap : MemoryKind::kMemfd);
}

TEST(SharedMemory, ReceivedFdsAreValidated) {
  SharedMemory ok = create_memfd("ok", 4096);
  EXPECT_NO_THROW(check_received_memory(ok.fd.get(), 4096, "fd"));
  try {
    check_received_memory(ok.fd.get(), 8192, "frame fd");
    FAIL() << "a too-small fd was accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("expected at least 8192 bytes, found 4096"), std::string::npos) << e.what();
  }
  UniqueFd unsealed(memfd_create("unsealed", MFD_ALLOW_SEALING));
  ASSERT_EQ(ftruncate(unsealed.get(), 4096), 0);
  EXPECT_THROW(check_received_memory(unsealed.get(), 4096, "fd"), Error);
  int pipes[2];
  ASSERT_EQ(pipe(pipes), 0);
  UniqueFd r(pipes[0]), w(pipes[1]);
  EXPECT_THROW(check_received_memory(r.get(), 4096, "fd"), Error);
}

TEST(VisionBuf, ImportSharesBytesWithAllocator) {
  VisionBuf a;
  a.allocate(buffer_layout(conduit::PixelFormat::kI420, 64, 32), "share");
  EXPECT_EQ(a.u, a.addr + a.layout.u_offset);
  EXPECT_EQ(a.v, a.addr + a.layout.v_offset);
  EXPECT_EQ(a.frame().v, a.v);
  memset(a.addr, 0x5a, a.len);
  VisionBuf b;
  b.import(dup(a.fd), a.memory_kind, buffer_layout(conduit::PixelFormat::kI420, 64, 32));
  EXPECT_EQ(b.addr[100], 0x5a);
  b.addr[7] = 1;
  EXPECT_EQ(a.addr[7], 1);
  VisionBuf c;
  EXPECT_THROW(c.import(dup(a.fd), a.memory_kind, buffer_layout(conduit::PixelFormat::kNv12, 1920, 1080)), Error);
}

// A client as the server sets it up: its own hold page in `slot`.
ControlBlock client_of(ControlBlock &server, int slot) {
  return ControlBlock::attach(dup(server.fd()), server.open_slot(slot).release(), 42, server.num_buffers());
}

TEST(ControlBlock, ClaimHoldRelease) {
  ControlBlock cb = ControlBlock::create(42, 2);
  ControlBlock c3 = client_of(cb, 3), c5 = client_of(cb, 5), c7 = client_of(cb, 7);
  uint32_t g0, g1;
  ASSERT_TRUE(cb.try_claim(0, &g0));
  EXPECT_EQ(g0, 1u);
  // A client holds the announced generation; the producer can't claim it back.
  EXPECT_TRUE(c3.try_hold(0, g0));
  EXPECT_EQ(cb.holders(0), 1u << 3);
  EXPECT_FALSE(cb.try_claim(0, &g1));
  EXPECT_TRUE(c5.try_hold(0, g0));
  c3.release(0);
  EXPECT_FALSE(cb.try_claim(0, &g1));
  c5.release(0);
  ASSERT_TRUE(cb.try_claim(0, &g1));
  EXPECT_EQ(g1, 2u);
  // An announcement for the old generation is stale now.
  EXPECT_FALSE(c3.try_hold(0, g0));
  EXPECT_EQ(cb.holders(0), 0u);
  // A closed slot's holds vanish at once, whatever its client writes afterwards.
  ASSERT_TRUE(cb.try_claim(1, &g0));
  EXPECT_TRUE(c7.try_hold(0, g1));
  EXPECT_TRUE(c7.try_hold(1, g0));
  cb.close_slot(7);
  EXPECT_EQ(cb.holders(0) | cb.holders(1), 0u);
  EXPECT_TRUE(c7.try_hold(0, g1));  // its page is no longer read by the server
  EXPECT_EQ(cb.holders(0), 0u);
  ASSERT_TRUE(cb.try_claim(0, &g1));
}

// The generations are the server's alone: a client's mapping is read-only and
// cannot be made writable; a client can only write its own hold page.
TEST(ControlBlock, ClientsCannotWriteTheGenerations) {
  ControlBlock cb = ControlBlock::create(42, 4);
  EXPECT_EQ(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, cb.fd(), 0), MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  char byte = 1;
  EXPECT_EQ(pwrite(cb.fd(), &byte, 1, 64), -1);
  void *ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, cb.fd(), 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_NE(mprotect(ro, 4096, PROT_READ | PROT_WRITE), 0);
  munmap(ro, 4096);
}

// A client claiming more than kMaxHoldsPerClient buffers (by writing its hold
// page, here through the API) has every hold ignored and is reported; the
// other clients' holds still count.
TEST(ControlBlock, AClientOverItsBudgetCannotStarveTheProducer) {
  constexpr uint32_t kBuffers = 4;
  ControlBlock cb = ControlBlock::create(42, kBuffers);
  ControlBlock greedy = client_of(cb, 0), fair = client_of(cb, 1);
  uint32_t gen[kBuffers];
  for (uint32_t i = 0; i < kBuffers; i++) ASSERT_TRUE(cb.try_claim(i, &gen[i]));
  EXPECT_TRUE(fair.try_hold(3, gen[3]));
  for (uint32_t i = 0; i < uint32_t(kMaxHoldsPerClient); i++) EXPECT_TRUE(greedy.try_hold(i, gen[i]));
  uint32_t g;
  EXPECT_FALSE(cb.try_claim(0, &g)) << "within its budget a client's holds count";
  EXPECT_EQ(cb.take_over_budget(), 0u);
  EXPECT_TRUE(greedy.try_hold(2, gen[2]));  // one more than its share
  EXPECT_TRUE(cb.try_claim(0, &g));
  EXPECT_EQ(cb.take_over_budget(), 1u << 0);
  EXPECT_FALSE(cb.try_claim(3, &g)) << "the fair client's hold still counts";
}

TEST(ControlBlock, AttachChecksIdentity) {
  ControlBlock cb = ControlBlock::create(42, 4);
  EXPECT_NO_THROW(ControlBlock::attach(dup(cb.fd()), cb.open_slot(0).release(), 42, 4));
  EXPECT_THROW(ControlBlock::attach(dup(cb.fd()), cb.open_slot(0).release(), 43, 4), Error);
  EXPECT_THROW(ControlBlock::attach(dup(cb.fd()), cb.open_slot(0).release(), 42, 3), Error);
  SharedMemory junk = create_memfd("junk", 4096);
  EXPECT_THROW(ControlBlock::attach(junk.fd.release(), cb.open_slot(1).release(), 42, 4), Error);
  EXPECT_THROW(ControlBlock::create(1, 0), Error);
  EXPECT_THROW(ControlBlock::create(1, kMaxBuffersPerStream + 1), Error);
}

// A producer process and a consumer process race on the claim/hold protocol
// over shared memory: whenever the consumer holds a buffer, its contents must
// be the frame it was announced with, whole, for as long as it holds it.
TEST(ControlBlock, HeldBuffersAreNeverWrittenAcrossProcesses) {
  constexpr uint32_t kBuffers = 3, kHolds = 200, kWords = 512;
  ControlBlock cb = ControlBlock::create(7, kBuffers);
  struct Shared {
    std::atomic<uint64_t> announced;  // (idx << 48) | (gen << 16) | 1, 0 = none
    std::atomic<uint32_t> done;
    std::atomic<uint32_t> holds;
    uint32_t frames[kBuffers][kWords];
  };
  auto *sh = static_cast<Shared *>(mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(sh, MAP_FAILED);
  new (sh) Shared{};

  UniqueFd page = cb.open_slot(0);
  pid_t consumer = fork();
  if (consumer == 0) {
    ControlBlock mine = ControlBlock::attach(dup(cb.fd()), page.release(), 7, kBuffers);
    uint64_t holds = 0, bad = 0;
    while (!sh->done.load()) {
      uint64_t a = sh->announced.load(std::memory_order_acquire);
      if (!a) continue;
      uint32_t idx = uint32_t(a >> 48), gen = uint32_t((a >> 16) & 0xffffffff);
      if (!mine.try_hold(idx, gen)) continue;
      sh->holds.fetch_add(1);
      holds++;
      // Read the frame many times while holding it: a writer would tear it.
      for (int pass = 0; pass < 20; pass++) {
        uint32_t first = sh->frames[idx][0];
        for (uint32_t w = 0; w < kWords; w++) bad += sh->frames[idx][w] != first;
        if (first != gen) bad++;
        std::this_thread::yield();
      }
      mine.release(idx);
    }
    _exit(holds > 0 && bad == 0 ? 0 : 1);
  }
  uint64_t claimed = 0, refused = 0;
  // Runs until the consumer has held enough frames (bounded by a frame count, not a clock).
  for (uint32_t f = 0; f < 200'000'000 && sh->holds.load() < kHolds; f++) {
    uint32_t gen;
    bool got = false;
    for (uint32_t i = 0; i < kBuffers && !got; i++) {
      uint32_t idx = (f + i) % kBuffers;
      if (!cb.try_claim(idx, &gen)) {
        refused++;
      } else {
        for (uint32_t w = 0; w < kWords; w++) sh->frames[idx][w] = gen;
        sh->announced.store((uint64_t(idx) << 48) | (uint64_t(gen) << 16) | 1, std::memory_order_release);
        got = true;
      }
    }
    claimed += got;
    std::this_thread::yield();  // on a busy machine, let the consumer run
  }
  sh->done.store(1);
  int status = 0;
  ASSERT_EQ(waitpid(consumer, &status, 0), consumer);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "consumer saw a torn or overwritten frame";
  EXPECT_GE(sh->holds.load(), kHolds);
  EXPECT_GT(claimed, 0u);
  EXPECT_GT(refused, 0u) << "the consumer never held a buffer while the producer wanted it";
  munmap(sh, sizeof(Shared));
}
