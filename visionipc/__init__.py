"""VisionIPC: zero-copy sharing of 4:2:0 camera frames (NV12 or I420) between processes.

  server = VisionIpcServer("camerad")
  server.create_buffers(VISION_STREAM_ROAD, 4, 1928, 1208)   # pixel_format="nv12" or "yuv420p"
  server.start_listener()
  server.send(VISION_STREAM_ROAD, nv12_bytes, frame_id=1)

  client = VisionIpcClient("camerad", VISION_STREAM_ROAD, conflate=True)
  client.connect(True)
  buf = client.recv(100)          # buf.y / buf.u / buf.v are numpy views of shared memory
  rgb = to_rgb(buf)               # (height, width, 3) uint8 copy, BT.601 (visionipc/rgb.py)
"""
from visionipc._visionipc import (  # noqa: F401
  VISION_STREAM_DRIVER,
  VISION_STREAM_MAP,
  VISION_STREAM_ROAD,
  VISION_STREAM_WIDE_ROAD,
  VisionBuf,
  VisionIpcClient,
  VisionIpcError,
  VisionIpcServer,
  VisionStreamType,
)
from visionipc.rgb import to_rgb, yuv_to_rgb  # noqa: F401,E402
