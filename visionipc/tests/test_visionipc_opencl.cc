// OpenCL interop: a kernel (run by whatever ICD is installed; pocl on the CPU in
// CI) reads a received frame through the client's cl_mem, in place, and must see
// exactly the bytes the producer wrote.
#include <vector>

#include "visionipc/tests/frame_pattern.h"
#include "common/testing/prefix.h"
#include "visionipc/visionipc_client.h"
#include "visionipc/visionipc_server.h"

using namespace visionipc_test;
using testutil::PrefixTest;

namespace {

// Compacts the strided NV12 frame into width*height*3/2 bytes.
const char *kKernel = R"(
__kernel void compact_nv12(__global const uchar *frame, __global uchar *out,
                           uint width, uint height, uint stride, uint uv_offset) {
  uint x = get_global_id(0), y = get_global_id(1);
  out[y * width + x] = frame[y * stride + x];
  if (y < height / 2) out[width * height + y * width + x] = frame[uv_offset + y * stride + x];
}
)";

struct Cl {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  cl_context ctx = nullptr;
  cl_command_queue queue = nullptr;
  cl_program program = nullptr;
  cl_kernel kernel = nullptr;
  std::string error;

  bool init() {
    cl_uint n = 0;
    if (clGetPlatformIDs(1, &platform, &n) != CL_SUCCESS || n == 0) return fail("no OpenCL platform");
    if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, &n) != CL_SUCCESS || n == 0) return fail("no OpenCL device");
    cl_int err;
    ctx = clCreateContext(nullptr, 1, &device, nullptr, nullptr, &err);
    if (err != CL_SUCCESS) return fail("clCreateContext " + std::to_string(err));
    queue = clCreateCommandQueue(ctx, device, 0, &err);
    if (err != CL_SUCCESS) return fail("clCreateCommandQueue " + std::to_string(err));
    program = clCreateProgramWithSource(ctx, 1, &kKernel, nullptr, &err);
    if (err != CL_SUCCESS || clBuildProgram(program, 1, &device, "", nullptr, nullptr) != CL_SUCCESS) {
      return fail("building the kernel failed");
    }
    kernel = clCreateKernel(program, "compact_nv12", &err);
    return err == CL_SUCCESS || fail("clCreateKernel " + std::to_string(err));
  }
  bool fail(const std::string &why) {
    error = why;
    return false;
  }
  ~Cl() {
    if (kernel) clReleaseKernel(kernel);
    if (program) clReleaseProgram(program);
    if (queue) clReleaseCommandQueue(queue);
    if (ctx) clReleaseContext(ctx);
  }
};

class VisionIpcOpenCL : public PrefixTest {};

}  // namespace

TEST_F(VisionIpcOpenCL, KernelReadsTheProducersBytes) {
  Cl cl;
  ASSERT_TRUE(cl.init()) << cl.error;
  constexpr uint32_t W = 320, H = 240;
  VisionIpcServer server("cl");
  server.create_buffers(VISION_STREAM_ROAD, 2, W, H);
  server.start_listener();
  VisionIpcClient client("cl", VISION_STREAM_ROAD, false, cl.device, cl.ctx);
  ASSERT_TRUE(client.connect(false));
  for (size_t i = 0; i < client.num_buffers; i++) ASSERT_NE(client.buffers[i].buf_cl, nullptr);

  cl_int err;
  size_t out_len = W * H * 3 / 2;
  cl_mem out = clCreateBuffer(cl.ctx, CL_MEM_WRITE_ONLY, out_len, nullptr, &err);
  ASSERT_EQ(err, CL_SUCCESS);
  for (uint32_t frame = 1; frame <= 3; frame++) {
    VisionBuf *wb = server.get_buffer(VISION_STREAM_ROAD);
    ASSERT_NE(wb, nullptr);
    write_frame(wb, frame);
    VisionIpcBufExtra extra{frame, 0, 0, true};
    server.send(wb, &extra);

    VisionIpcBufExtra got;
    VisionBuf *b = client.recv(&got, 5000);
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(got.frame_id, frame);
    cl_uint w = W, h = H, stride = cl_uint(b->stride()), uv_offset = cl_uint(b->layout.u_offset);  // NV12
    clSetKernelArg(cl.kernel, 0, sizeof(cl_mem), &b->buf_cl);
    clSetKernelArg(cl.kernel, 1, sizeof(cl_mem), &out);
    clSetKernelArg(cl.kernel, 2, sizeof(w), &w);
    clSetKernelArg(cl.kernel, 3, sizeof(h), &h);
    clSetKernelArg(cl.kernel, 4, sizeof(stride), &stride);
    clSetKernelArg(cl.kernel, 5, sizeof(uv_offset), &uv_offset);
    size_t global[2] = {W, H};
    ASSERT_EQ(clEnqueueNDRangeKernel(cl.queue, cl.kernel, 2, nullptr, global, nullptr, 0, nullptr, nullptr), CL_SUCCESS);
    std::vector<uint8_t> host(out_len);
    ASSERT_EQ(clEnqueueReadBuffer(cl.queue, out, CL_TRUE, 0, out_len, host.data(), 0, nullptr, nullptr), CL_SUCCESS);

    // Expected: what the producer wrote, row by row, without padding.
    std::vector<uint8_t> expect(out_len);
    for (uint32_t r = 0; r < H; r++) memcpy(&expect[r * W], wb->y + r * wb->stride(), W);
    for (uint32_t r = 0; r < H / 2; r++) memcpy(&expect[W * H + r * W], wb->u + r * wb->stride(), W);
    ASSERT_EQ(host, expect) << "frame " << frame;
    uint32_t id;
    memcpy(&id, host.data(), sizeof(id));
    EXPECT_EQ(id, frame);
  }
  clReleaseMemObject(out);
}
