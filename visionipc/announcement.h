#pragma once
// The message a server publishes on a stream's msgq topic for every frame: which
// buffer (index + generation) now holds which frame. 64 bytes, fixed layout.
// A client trusts nothing in it: wrong size or magic, a server id other than the
// one it is connected to, an index out of range or a stale generation are all
// rejected (see visionipc_client.h).
#include <cstdint>

namespace visionipc {

constexpr uint32_t kAnnouncementMagic = 0x4e4e4156;  // "VANN"
constexpr size_t kAnnounceRingSize = 1 << 16;        // ~1000 announcements per topic

struct Announcement {
  uint32_t magic;
  uint32_t buffer_idx;
  uint64_t server_id;
  uint32_t generation;  // buffer generation at claim time (control_block.h)
  uint32_t frame_id;
  uint64_t seq;  // per-stream send counter from 0; gaps are frames this client missed
  uint64_t timestamp_sof;
  uint64_t timestamp_eof;
  uint64_t send_time_ns;  // CLOCK_MONOTONIC when the server published it
  uint32_t valid;
  uint32_t reserved;
};
static_assert(sizeof(Announcement) == 64, "announcement layout is part of the protocol");

}  // namespace visionipc
