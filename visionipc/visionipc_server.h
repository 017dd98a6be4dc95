#pragma once
// VisionIpcServer: owns the frame buffers of one or more streams and hands
// frames to any number of client processes without copying them.
//
//   VisionIpcServer server("camerad");
//   server.create_buffers(VISION_STREAM_ROAD, 4, 1928, 1208);
//   server.start_listener();
//   for (;;) {
//     VisionBuf *buf = server.get_buffer(VISION_STREAM_ROAD);
//     if (!buf) continue;                 // every buffer held: frame dropped, counted
//     fill(buf->frame());                 // Y, U, V planes in the stream's layout
//     server.send(buf, &extra);           // one msgq announcement, no copy
//   }
//
// Handoff is acknowledged: get_buffer() never returns a buffer a client holds
// (control_block.h), and never blocks. A client's holds vanish when its socket
// closes, so a crashed consumer cannot starve the producer; a client holding
// more than kMaxHoldsPerClient buffers has its holds ignored and is
// disconnected, so a misbehaving one cannot either. Connections waiting for
// their handshake are bounded per peer process and in all (visionipc.h), and
// the listener answers the requests it has before it accepts more than a
// backlog's worth of connections: a flood of idle connections delays a
// well-behaved client's handshake by a few rounds, however slow the host.
// Threads: create_buffers() and start_listener() first, from one thread; then
// get_buffer()/send() from one producer thread; the counters from any thread.
// The listener runs on its own thread and never blocks on a single client.
// Errors: visionipc::Error — bad geometry, a second live server of the same
// name, allocation failure. Misbehaving clients are refused and logged, never fatal.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "msgq/msgq.h"
#include "visionipc/control_block.h"
#include "visionipc/unique_fd.h"
#include "visionipc/visionbuf.h"
#include "visionipc/visionipc.h"

class VisionIpcServer {
 public:
  // With a device and context, every buffer also gets buf_cl (VisionBuf::init_cl).
  explicit VisionIpcServer(std::string name, cl_device_id device_id = nullptr, cl_context ctx = nullptr);
  ~VisionIpcServer();

  // `num_buffers` buffers of width x height in `format` (NV12 or I420; layout:
  // visionipc::buffer_layout). Clients learn the layout when they connect.
  void create_buffers(VisionStreamType type, size_t num_buffers, size_t width, size_t height,
                      conduit::PixelFormat format = conduit::PixelFormat::kNv12);
  // Zero-copy producers: the stream's buffers are a device's DMA-BUFs (one per
  // fd, taken over by the server), frames in the device's `layout` (its real
  // strides and plane offsets). The device writes them; the producer takes one
  // with claim_buffer() before handing it to the device, so a buffer a client
  // holds never goes back to it.
  void create_device_buffers(VisionStreamType type, std::vector<visionipc::UniqueFd> fds,
                             const conduit::Yuv420Layout &layout);
  // Creates the socket (0600) and starts accepting clients.
  void start_listener();

  // A buffer to write the next frame into, or nullptr when clients hold every
  // buffer: the frame is dropped and dropped_frames() counts it.
  VisionBuf *get_buffer(VisionStreamType type);
  // Buffer `idx` for writing if no client holds it, else nullptr (nothing counted).
  VisionBuf *claim_buffer(VisionStreamType type, size_t idx);
  // Counts frames the producer lost outside get_buffer() (a device with no buffer to fill).
  void count_dropped(VisionStreamType type, uint64_t n);
  // Announces `buf` to every client; extra may be nullptr. `buf` must come from
  // get_buffer() and be sent once (Error otherwise).
  void send(VisionBuf *buf, const VisionIpcBufExtra *extra);
  // Lockstep (msgq.h; process replay): waits until every lockstep client of
  // the stream took the frames sent and went back to wait. False on timeout.
  bool wait_lockstep(VisionStreamType type, int timeout_ms);

  const std::string &name() const { return name_; }
  uint64_t server_id() const { return server_id_; }
  uint64_t frames_sent(VisionStreamType type) const;
  uint64_t dropped_frames(VisionStreamType type) const;
  int num_clients(VisionStreamType type) const;  // attached right now
  uint64_t refused_connections() const { return refused_.load(); }
  // Holder mask of one buffer (bit per client slot); for tests and tools.
  uint32_t holders(VisionStreamType type, size_t idx) const;

 private:
  struct Stream;
  struct Connection;
  Stream &stream(VisionStreamType type) const;
  void listener_loop();
  bool accept_client();  // false once nothing is left to accept
  // False when the connection is finished and must be closed.
  bool handle_request(Connection &c);
  void close_connection(Connection &c);
  void refuse(Connection &c, const std::string &why);

  std::string name_;
  cl_device_id device_id_;
  cl_context ctx_;
  uint64_t server_id_;
  std::vector<std::unique_ptr<Stream>> streams_;  // indexed by VisionStreamType
  std::string socket_path_;
  visionipc::UniqueFd listen_fd_, stop_fd_, wake_fd_;  // wake_fd_: the producer found a client over budget
  std::thread listener_;
  std::vector<Connection> connections_;  // listener thread only
  mutable std::mutex slots_mutex_;
  std::atomic<uint64_t> refused_{0};
  uint64_t last_refusal_log_ns_ = 0, unlogged_refusals_ = 0;  // listener thread only
};
