#pragma once
// When camerad's dmabuf path gives a sent frame's buffer back to the device.
// A frame is announced in the device buffer itself, and claiming that buffer
// for the device again (a new generation) makes every client that has not yet
// taken its hold lose the frame. So buffers go back oldest-sent first, and only
// while the device has fewer than `keep_queued`: the rest stay readable, as in
// get_buffer()'s round robin. When clients' holds leave nothing but the frame
// just sent, it still waits `grace_ns` after its announcement, so a client gets
// a frame time to take it (the device drops meanwhile, and that is counted).
// A buffer a client holds stays out until released; later ones go first.
// Threads: the camera thread only.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

namespace camerad {

class DeviceReturn {
 public:
  // Every one of `buffers` starts out of the device, due at once.
  DeviceReturn(size_t buffers, size_t keep_queued, uint64_t grace_ns);

  // The frame in buffer `index` was announced at now_ns.
  void sent(size_t index, uint64_t now_ns);
  // Offers due buffers to give(index), oldest-sent first, while queued() is
  // below keep_queued. give() queues the buffer and returns true, or returns
  // false when a client holds it. Returns how long to wait, in ms, before a
  // buffer can go back (0 = one is due now but held; -1 = nothing to return).
  int refill(uint64_t now_ns, const std::function<size_t()> &queued, const std::function<bool(size_t)> &give);

 private:
  struct Out {
    size_t index;
    uint64_t due_ns;
  };
  std::deque<Out> out_;  // oldest sent first
  size_t keep_queued_;
  uint64_t grace_ns_;
};

}  // namespace camerad
