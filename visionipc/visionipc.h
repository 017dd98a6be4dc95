#pragma once
// VisionIPC shared vocabulary: stream types, per-frame metadata, limits, and the
// names under which a server is found. See visionipc_server.h / visionipc_client.h.
//
//   server "camerad", stream VISION_STREAM_ROAD
//     socket        socket_path("vipc_camerad")            (unix SOCK_SEQPACKET, 0600)
//     announcements msgq topic "vipc_camerad_road"         (one Announcement per frame)
//
// Link with LIBS=['visionipc', 'msgq', 'common', 'OpenCL', 'zmq']; for CUDA interop
// also 'visionipc_cuda' and 'cudart' (see visionbuf_cuda.h).
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/yuv420.h"

// Streams a server can offer. Values are stable: they cross process boundaries.
enum VisionStreamType : int32_t {
  VISION_STREAM_ROAD = 0,
  VISION_STREAM_DRIVER = 1,
  VISION_STREAM_WIDE_ROAD = 2,
  VISION_STREAM_MAP = 3,
  VISION_STREAM_MAX = 16,  // streams are 0 .. VISION_STREAM_MAX-1
};

// Metadata that travels with every frame.
struct VisionIpcBufExtra {
  uint32_t frame_id = 0;
  uint64_t timestamp_sof = 0;  // CLOCK_MONOTONIC ns, start of frame
  uint64_t timestamp_eof = 0;  // CLOCK_MONOTONIC ns, end of frame
  bool valid = true;
};

namespace visionipc {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr int kMaxBuffersPerStream = 64;
// Clients per stream attached at once; a hold page each (control_block.h).
constexpr int kMaxClientsPerStream = 32;
// Buffers one client may hold at once (VisionIpcClient holds one). A client
// claiming more has all its holds ignored and is disconnected, so the producer
// always finds a free buffer unless kMaxHoldsPerClient * clients >= buffers.
constexpr int kMaxHoldsPerClient = 2;
// Connections waiting for their handshake, in all and per peer process: a
// peer over its share is refused at once, and when all are taken the peer
// with the most waiting gives up its oldest to a peer with fewer. The total is
// also the listen backlog and the most the listener accepts at a time before
// it answers the requests that arrived.
constexpr int kMaxPendingConnections = 64;
constexpr int kMaxPendingPerPeer = 4;

// "road", "driver", "wideRoad", "map", or "stream<N>" for other valid values.
// Throws Error for values outside 0 .. VISION_STREAM_MAX-1.
std::string stream_name(VisionStreamType type);
// Socket name passed to conduit::socket_path(); validates the server name.
std::string socket_name(const std::string &server_name);
// msgq topic of a stream's announcements.
std::string announce_topic(const std::string &server_name, VisionStreamType type);

// The frame layout of a stream's buffers (common/yuv420.h: NV12 or I420) with
// padding: the luma stride is a multiple of 64 bytes (SIMD loads, encoder line
// alignment; I420 chroma rows are half of it), the Y plane has a multiple of 16
// rows (macroblocks), and len is whole pages so every buffer is mmap-able on its own.
struct BufferLayout {
  conduit::Yuv420Layout frame;
  uint64_t len = 0;
};
// Throws Error unless width and height are even and in 2..16384.
BufferLayout buffer_layout(conduit::PixelFormat format, uint32_t width, uint32_t height);

}  // namespace visionipc
