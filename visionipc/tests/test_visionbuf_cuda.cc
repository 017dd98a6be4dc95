// CUDA interop: a registered frame buffer is readable through its device pointer.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <vector>

#include "visionipc/visionbuf_cuda.h"

TEST(VisionBufCuda, DevicePointerSeesHostBytes) {
  std::string why;
  if (!visionipc::cuda_device_present(&why)) GTEST_SKIP() << "no CUDA device at run time: " << why;
  VisionBuf buf;
  buf.allocate(visionipc::buffer_layout(conduit::PixelFormat::kNv12, 640, 480), "cuda_test");
  for (size_t i = 0; i < buf.len; i++) buf.addr[i] = uint8_t(i * 7 + 3);
  visionipc::cuda_register(&buf);
  ASSERT_NE(buf.cuda_ptr, nullptr);
  std::vector<uint8_t> back(buf.len);
  ASSERT_EQ(cudaMemcpy(back.data(), buf.cuda_ptr, buf.len, cudaMemcpyDeviceToHost), cudaSuccess);
  for (size_t i = 0; i < buf.len; i += 997) ASSERT_EQ(back[i], uint8_t(i * 7 + 3)) << "at " << i;
}
