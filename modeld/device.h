#pragma once
// A compute device of one backend: its memory and its in-order queue. The
// frame transform and the model runner of one pipeline share a Device, so the
// transform writes straight into the model's input buffer.
//
// Memory: alloc() hands out buffers that the device owns; their user gives
// each back with release() when done (a device outlives the runners it serves),
// and the device frees what is left when it is destroyed. Allocate at start-up,
// never per frame. A DeviceBuffer's handle is a host pointer (cpu), a cl_mem
// (opencl) or a device pointer (cuda).
// Ordering: work is queued in order; upload/download/copy are ordered with the
// kernels, download and finish() wait. On cpu everything runs synchronously.
// Threads: one thread at a time. Errors: std::runtime_error naming the call and
// the driver's error.
#include <cstddef>
#include <memory>
#include <string>

#include "modeld/backend.h"

namespace modeld {

struct DeviceBuffer {
  void *handle = nullptr;
  size_t bytes = 0;
};

class Device {
 public:
  // Opens the default device of `b` (throws with the reason when unavailable).
  static std::shared_ptr<Device> open(Backend b);
  virtual ~Device() = default;

  virtual Backend backend() const = 0;
  virtual std::string description() const = 0;  // e.g. "opencl: pthread-haswell (Portable Computing Language)"

  virtual DeviceBuffer alloc(size_t bytes) = 0;  // zero-filled
  // Frees `b` (from this device's alloc(), no queued work still using it) and
  // empties it; throws std::runtime_error for a buffer this device does not own.
  virtual void release(DeviceBuffer &b) = 0;
  virtual size_t allocated_bytes() const = 0;  // alloc()ed and not yet released
  // Makes `b` (empty or this device's) hold at least `bytes`: a smaller one is
  // released and replaced by a new zero-filled buffer.
  void reserve(DeviceBuffer &b, size_t bytes);
  virtual void upload(const DeviceBuffer &dst, size_t offset, const void *src, size_t bytes) = 0;
  virtual void download(const DeviceBuffer &src, size_t offset, void *dst, size_t bytes) = 0;
  virtual void copy(const DeviceBuffer &dst, size_t dst_offset, const DeviceBuffer &src, size_t src_offset,
                    size_t bytes) = 0;
  virtual void finish() = 0;

  // Device time of the work queued between begin_timing() and end_timing_ms()
  // (end waits for it): kernel time from the driver's profiling on opencl/cuda,
  // wall time on cpu.
  virtual void begin_timing() = 0;
  virtual double end_timing_ms() = 0;
};

// Backend constructors (device_cpu.cc, device_opencl.cc, device_cuda.cu).
std::shared_ptr<Device> open_cpu_device();
std::shared_ptr<Device> open_opencl_device();
std::shared_ptr<Device> open_cuda_device();

}  // namespace modeld
