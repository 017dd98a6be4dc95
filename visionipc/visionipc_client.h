#pragma once
// VisionIpcClient: receives the frames of one stream of one server, in place.
//
//   VisionIpcClient client("camerad", VISION_STREAM_ROAD, /*conflate=*/true);
//   client.connect(true);
//   VisionIpcBufExtra extra;
//   while (VisionBuf *buf = client.recv(&extra, 100)) use(buf->frame(), extra.frame_id);
//
// recv() waits for the next announcement (a msgq receive: same futex wake-up,
// no extra syscall), checks it and marks the buffer as held in this client's
// hold page (control_block.h). The buffer is held — the producer will not write
// it — until the next recv() or release(). The returned pointer is valid until then.
// Announcements are checked, never trusted: wrong size/magic, an index out of
// range or an unknown server are rejected (rejected()); frames overwritten
// before they could be held, lapped or conflated away count in dropped().
// When the server restarts (new server id, or its socket closes) the client
// reconnects by itself inside recv().
// Threads: one thread at a time per client. Errors: visionipc::Error for bad
// arguments; connection problems make connect()/recv() return false/nullptr.
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "msgq/msgq.h"
#include "visionipc/control_block.h"
#include "visionipc/unique_fd.h"
#include "visionipc/visionbuf.h"
#include "visionipc/visionipc.h"

class VisionIpcClient {
 public:
  // With a device and context, every buffer also gets buf_cl (VisionBuf::init_cl).
  VisionIpcClient(std::string name, VisionStreamType type, bool conflate, cl_device_id device_id = nullptr,
                  cl_context ctx = nullptr);
  ~VisionIpcClient();

  // Connects to the server. blocking: retry until it works (server not up yet);
  // otherwise one attempt. Returns whether connected. A refusal by the server
  // (unknown stream, no free slot) is logged with the server's reason.
  bool connect(bool blocking = true);
  // Next frame or nullptr on timeout (timeout_ms as msgq: 0 poll, -1 forever).
  VisionBuf *recv(VisionIpcBufExtra *extra = nullptr, int timeout_ms = 100);
  // Gives back the buffer from the last recv() now instead of at the next recv().
  void release();

  // Streams the server offers; empty if it is not reachable. blocking: wait for it.
  static std::set<VisionStreamType> getAvailableStreams(const std::string &name, bool blocking);

  bool connected = false;
  size_t num_buffers = 0;
  VisionBuf *buffers = nullptr;  // num_buffers buffers, valid while connected

  uint64_t server_id() const { return server_id_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t rejected() const { return rejected_; }
  uint64_t reconnects() const { return reconnects_; }
  // Why the last connection attempt failed ("" after success).
  const std::string &last_error() const { return last_error_; }
  // Keeps the current mappings alive after a reconnect (Python views hold one).
  std::shared_ptr<void> mapping_owner() const { return mapping_; }

 private:
  struct Mapping;
  bool connect_once();
  bool handshake();
  void disconnect(bool resubscribe);
  bool server_gone() const;

  std::string name_;
  VisionStreamType type_;
  bool conflate_;
  cl_device_id device_id_;
  cl_context ctx_;
  std::unique_ptr<msgq::SubSocket> sub_;
  msgq::Message msg_;
  visionipc::UniqueFd sock_;
  std::shared_ptr<Mapping> mapping_;
  std::string last_error_;
  uint64_t server_id_ = 0;
  int held_ = -1;  // buffer index held, -1 none
  uint64_t next_seq_ = 0;
  uint64_t dropped_ = 0, rejected_ = 0, reconnects_ = 0;
};
