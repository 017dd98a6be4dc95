#pragma once
// The connection protocol between a VisionIPC client and server, one
// SOCK_SEQPACKET packet per message:
//
//   client -> server   Request { kind = kConnect, stream }   or kListStreams
//   server -> client   Reply, plus for kConnect the fds (SCM_RIGHTS):
//                      [control block, hold page, buffer 0, buffer 1, ...]
//
// After a kConnect reply the client keeps the socket open and sends nothing
// more; the server treats its close (EOF/POLLHUP) as "release all my holds".
// A Reply with status != 0 carries a text saying what was expected and found.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "visionipc/unique_fd.h"
#include "visionipc/visionipc.h"

namespace visionipc {

constexpr uint32_t kHandshakeMagic = 0x43504956;  // "VIPC"
// 2: 4:2:0 layout (U/V offsets, chroma stride and step); 3: a hold page per client
constexpr uint32_t kHandshakeVersion = 3;

enum class RequestKind : uint32_t { kConnect = 1, kListStreams = 2 };

struct Request {
  uint32_t magic;
  uint32_t version;
  uint32_t kind;
  int32_t stream;
};

struct Reply {
  uint32_t magic;
  uint32_t version;
  int32_t status;  // 0 = ok
  uint32_t memory_kind;  // MemoryKind of the frame buffers
  uint64_t server_id;
  uint64_t next_seq;  // seq of the next announcement on this stream
  int32_t slot;       // this client's slot: its bit in holders() masks
  uint32_t num_buffers;
  uint32_t width, height, stride, uv_stride, uv_step, reserved;
  uint64_t u_offset, v_offset, len;  // buffer layout (visionipc::buffer_layout)
  uint32_t num_streams;
  int32_t streams[VISION_STREAM_MAX];
  char error[256];
};

// Sends one packet with `fds` attached. Throws Error on failure.
void send_packet(int sock, const void *data, size_t len, const std::vector<int> &fds = {});
// Receives one packet of exactly `len` bytes, waiting at most timeout_ms (-1:
// forever). Received fds are owned by `fds`. Returns false on EOF or timeout;
// throws Error for a packet of the wrong size or with truncated ancillary data.
bool recv_packet(int sock, void *data, size_t len, std::vector<UniqueFd> *fds, int timeout_ms);

}  // namespace visionipc
