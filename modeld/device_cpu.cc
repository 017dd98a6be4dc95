#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "common/clock.h"
#include "modeld/device.h"

namespace modeld {
namespace {

class CpuDevice : public Device {
 public:
  Backend backend() const override { return Backend::kCpu; }
  std::string description() const override { return "cpu: C++ reference"; }

  DeviceBuffer alloc(size_t bytes) override {
    // 64-byte aligned so the compiler's vector loads never split cache lines.
    size_t words = (bytes + 63) / 64;
    std::unique_ptr<Block[]> block(new Block[words ? words : 1]());
    void *p = block.get();
    blocks_.emplace(p, std::move(block));
    allocated_ += bytes;
    return {p, bytes};
  }
  void release(DeviceBuffer &b) override {
    if (!blocks_.erase(b.handle)) throw std::runtime_error("cpu release: not a buffer of this device");
    allocated_ -= b.bytes;
    b = {};
  }
  size_t allocated_bytes() const override { return allocated_; }
  void upload(const DeviceBuffer &dst, size_t offset, const void *src, size_t bytes) override {
    check(dst, offset, bytes, "upload");
    memcpy(static_cast<char *>(dst.handle) + offset, src, bytes);
  }
  void download(const DeviceBuffer &src, size_t offset, void *dst, size_t bytes) override {
    check(src, offset, bytes, "download");
    memcpy(dst, static_cast<const char *>(src.handle) + offset, bytes);
  }
  void copy(const DeviceBuffer &dst, size_t dst_offset, const DeviceBuffer &src, size_t src_offset,
            size_t bytes) override {
    check(dst, dst_offset, bytes, "copy");
    check(src, src_offset, bytes, "copy");
    memmove(static_cast<char *>(dst.handle) + dst_offset, static_cast<const char *>(src.handle) + src_offset, bytes);
  }
  void finish() override {}
  void begin_timing() override { timing_start_ = conduit::mono_ns(); }
  double end_timing_ms() override { return (conduit::mono_ns() - timing_start_) * 1e-6; }

 private:
  struct alignas(64) Block {
    char bytes[64];
  };
  static void check(const DeviceBuffer &b, size_t offset, size_t bytes, const char *what) {
    if (offset + bytes > b.bytes) {
      throw std::runtime_error(std::string("cpu ") + what + ": range " + std::to_string(offset) + "+" +
                               std::to_string(bytes) + " outside a buffer of " + std::to_string(b.bytes) + " bytes");
    }
  }
  std::unordered_map<void *, std::unique_ptr<Block[]>> blocks_;
  size_t allocated_ = 0;
  uint64_t timing_start_ = 0;
};

}  // namespace

std::shared_ptr<Device> open_cpu_device() { return std::make_shared<CpuDevice>(); }

}  // namespace modeld
