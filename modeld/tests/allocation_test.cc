// "A frame costs no allocation": after the first frame, the pipeline's per-frame
// path (transform, history, every model launch, timing) makes no C++ heap
// allocation. Counted by replacing the global operator new in this binary:
// every form that plain and array allocations use, with their deletes, so no
// block is freed by a form of delete it was not made by (ASan brings its own
// forms; libLLVM, under pocl, allocates with the nothrow one).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "modeld/pipeline.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<size_t> allocations{0};
}  // namespace

namespace {
void *counted_malloc(size_t n) {
  if (counting) allocations++;
  return std::malloc(n ? n : 1);
}
}  // namespace

void *operator new(size_t n) {
  if (void *p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void *operator new[](size_t n) { return operator new(n); }
void *operator new(size_t n, const std::nothrow_t &) noexcept { return counted_malloc(n); }
void *operator new[](size_t n, const std::nothrow_t &) noexcept { return counted_malloc(n); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }
void operator delete[](void *p, size_t) noexcept { std::free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { std::free(p); }

using namespace modeld;

namespace {

void expect_no_allocation_per_frame(Backend backend) {
  std::string why = backend_unavailable_reason(backend);
  if (!why.empty()) GTEST_SKIP() << backend_name(backend) << " unavailable: " << why;
  const char *path = "build/modeld/default_model.cmodel";
  if (FILE *f = fopen(path, "rb")) {
    fclose(f);
  } else {
    GTEST_SKIP() << path << " not built (run from the repository root)";
  }
  const int w = 1928, h = 1208;
  std::vector<uint8_t> frame(size_t(w) * h * 3 / 2);
  for (size_t i = 0; i < frame.size(); i++) frame[i] = uint8_t(i * 7 % 251);
  ModelPipeline pipeline(Device::open(backend), load_model(path));
  Frame f{frame.data(), conduit::yuv420_layout(conduit::PixelFormat::kNv12, w, h)};
  Mat3 warp = default_warp(w, h, pipeline.model_width(), pipeline.model_height());
  pipeline.process(f, warp);  // first frame: wraps the frame buffer once
  allocations = 0;
  counting = true;
  for (int i = 0; i < 3; i++) pipeline.process(f, warp);
  counting = false;
  EXPECT_EQ(allocations.load(), 0u);
}

}  // namespace

TEST(Allocation, NonePerFrameOnCpu) { expect_no_allocation_per_frame(Backend::kCpu); }
TEST(Allocation, NonePerFrameOnOpenCl) { expect_no_allocation_per_frame(Backend::kOpenCL); }
TEST(Allocation, NonePerFrameOnCuda) { expect_no_allocation_per_frame(Backend::kCuda); }
