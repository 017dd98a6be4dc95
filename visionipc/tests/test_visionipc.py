"""Python bindings: frames arrive as numpy views over the shared memory."""
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from visionipc import (VISION_STREAM_ROAD, VISION_STREAM_WIDE_ROAD, VisionIpcClient, VisionIpcError,
                       VisionIpcServer)

W, H = 320, 240


def frame(i):
  """A compact NV12 frame whose bytes depend on the frame id."""
  y = (np.arange(H, dtype=np.uint32)[:, None] * 3 + np.arange(W, dtype=np.uint32)[None, :] + i * 11) % 251
  uv = (np.arange(H // 2, dtype=np.uint32)[:, None] + np.arange(W, dtype=np.uint32)[None, :] * 5 + i * 17) % 241
  return y.astype(np.uint8), uv.astype(np.uint8)


PRODUCER = textwrap.dedent(f"""
  import sys, time
  import numpy as np
  sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
  from visionipc import VisionIpcServer, VISION_STREAM_ROAD
  from test_visionipc import frame
  s = VisionIpcServer("pyprod")
  s.create_buffers(VISION_STREAM_ROAD, 4, {W}, {H})
  s.start_listener()
  print("ready", flush=True)
  i = 0
  while True:
    y, uv = frame(i)
    s.send(VISION_STREAM_ROAD, np.concatenate([y.ravel(), uv.ravel()]), frame_id=i, timestamp_sof=1000 + i,
           timestamp_eof=2000 + i)
    i += 1
    time.sleep(0.005)
""")


def test_numpy_views_see_the_producers_pixels_across_processes():
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env = dict(os.environ, PYTHONPATH=root)
  proc = subprocess.Popen([sys.executable, "-c", PRODUCER], env=env, stdout=subprocess.PIPE, cwd=root)
  try:
    assert proc.stdout.readline().strip() == b"ready"
    client = VisionIpcClient("pyprod", VISION_STREAM_ROAD, False)
    assert client.connect(True)
    assert (client.width, client.height, client.num_buffers) == (W, H, 4)
    seen = 0
    while seen < 10:
      buf = client.recv(1000)
      if buf is None:
        continue
      y, uv = frame(client.frame_id)
      assert buf.y.shape == (H, W) and buf.uv.shape == (H // 2, W)
      assert buf.y.strides == (buf.stride, 1)
      np.testing.assert_array_equal(buf.y, y)
      np.testing.assert_array_equal(buf.uv, uv)
      assert client.timestamp_sof == 1000 + client.frame_id
      assert client.timestamp_eof == 2000 + client.frame_id
      assert client.valid
      # A view, not a copy: it points into the mapping and cannot be written.
      assert np.shares_memory(buf.y, buf.data) and np.shares_memory(buf.uv, buf.data)
      assert buf.data.ctypes.data + buf.u_offset == buf.uv.ctypes.data
      assert not buf.y.flags.writeable
      seen += 1
  finally:
    proc.kill()
    proc.wait()


def test_fill_in_place_and_zero_copy_receive():
  server = VisionIpcServer("inplace")
  server.create_buffers(VISION_STREAM_ROAD, 1, W, H)
  server.start_listener()
  client = VisionIpcClient("inplace", VISION_STREAM_ROAD, False)
  assert client.connect(False)
  addresses = set()
  for i in range(3):
    wbuf = server.get_buffer(VISION_STREAM_ROAD)
    assert wbuf is not None and wbuf.y.flags.writeable
    y, uv = frame(i)
    wbuf.y[:] = y
    wbuf.uv[:] = uv
    server.send_buffer(wbuf, frame_id=i)
    rbuf = client.recv(5000)
    assert rbuf is not None and client.frame_id == i
    np.testing.assert_array_equal(rbuf.y, y)
    addresses.add(rbuf.data.ctypes.data)
    # While the client holds the only buffer the producer must drop.
    assert server.get_buffer(VISION_STREAM_ROAD) is None
    client.release()
  assert len(addresses) == 1, "the same mapping every time: nothing was copied"
  assert server.dropped_frames(VISION_STREAM_ROAD) == 3
  assert server.frames_sent(VISION_STREAM_ROAD) == 3


def test_planes_are_views_in_either_layout():
  """u and v are strided views of the shared memory for NV12 (step 2, interleaved)
  and I420 (step 1, separate planes); the producer's compact frame lands in them."""
  y, uv = frame(5)
  u, v = uv[:, 0::2], uv[:, 1::2]
  server = VisionIpcServer("layouts")
  server.create_buffers(VISION_STREAM_ROAD, 2, W, H)
  server.create_buffers(VISION_STREAM_WIDE_ROAD, 2, W, H, pixel_format="yuv420p")
  server.start_listener()
  clients = [VisionIpcClient("layouts", stream, False) for stream in (VISION_STREAM_ROAD, VISION_STREAM_WIDE_ROAD)]
  assert all(c.connect(False) for c in clients)
  assert server.send(VISION_STREAM_ROAD, np.concatenate([y.ravel(), uv.ravel()]), frame_id=5)
  assert server.send(VISION_STREAM_WIDE_ROAD, np.concatenate([y.ravel(), u.ravel(), v.ravel()]), frame_id=5)
  for client, fmt, step in [(clients[0], "nv12", 2), (clients[1], "yuv420p", 1)]:
    assert client.pixel_format == fmt
    buf = client.recv(5000)
    assert buf is not None and buf.pixel_format == fmt and buf.uv_step == step
    assert buf.u.shape == buf.v.shape == (H // 2, W // 2)
    assert buf.u.strides == buf.v.strides == (buf.uv_stride, step)
    np.testing.assert_array_equal(buf.y, y)
    np.testing.assert_array_equal(buf.u, u)
    np.testing.assert_array_equal(buf.v, v)
    base = buf.data.ctypes.data
    assert buf.u.ctypes.data == base + buf.u_offset and buf.v.ctypes.data == base + buf.v_offset
    assert np.shares_memory(buf.u, buf.data) and np.shares_memory(buf.v, buf.data)
    if fmt == "nv12":
      assert buf.v_offset == buf.u_offset + 1 and buf.uv_stride == buf.stride
      np.testing.assert_array_equal(buf.uv, uv)
    else:
      assert buf.uv_stride == buf.stride // 2
      assert buf.v_offset >= buf.u_offset + buf.uv_stride * (H // 2), "V after the whole U plane"
      with pytest.raises(VisionIpcError, match="use u and v"):
        buf.uv
  with pytest.raises(ValueError, match="expected nv12 or yuv420p"):
    VisionIpcServer("badfmt").create_buffers(VISION_STREAM_ROAD, 2, W, H, pixel_format="rgb")


def test_socket_permissions_and_streams(conduit_prefix):
  server = VisionIpcServer("perm")
  server.create_buffers(VISION_STREAM_ROAD, 2, W, H)
  server.create_buffers(VISION_STREAM_WIDE_ROAD, 2, W // 2, H // 2)
  server.start_listener()
  mode = os.stat(f"/dev/shm/conduit_{conduit_prefix}/vipc_perm.sock").st_mode
  assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
  assert VisionIpcClient.available_streams("perm", False) == {VISION_STREAM_ROAD, VISION_STREAM_WIDE_ROAD}
  assert VisionIpcClient.available_streams("nobody", False) == set()


def test_bad_input_raises_clear_errors():
  server = VisionIpcServer("bad")
  with pytest.raises(VisionIpcError, match="even width and height"):
    server.create_buffers(VISION_STREAM_WIDE_ROAD, 2, 321, 240)
  with pytest.raises(VisionIpcError, match="has no stream"):
    server.get_buffer(VISION_STREAM_ROAD)
  server.create_buffers(VISION_STREAM_ROAD, 2, W, H)
  server.start_listener()
  with pytest.raises(VisionIpcError, match=r"expected 115200 \(compact nv12 320x240\)"):
    server.send(VISION_STREAM_ROAD, b"\0" * 100)
  with pytest.raises(VisionIpcError, match="after start_listener"):
    server.create_buffers(VISION_STREAM_WIDE_ROAD, 2, W, H)
  with pytest.raises(ValueError):
    VisionIpcServer("no/slash")
  client = VisionIpcClient("bad", VISION_STREAM_WIDE_ROAD, False)
  assert not client.connect(False)
  assert "unknown stream 2" in client.last_error
  assert client.recv(10) is None
  # Objects with no C++ value behind them are refused, never followed.
  with pytest.raises(TypeError, match="never initialized"):
    VisionIpcServer.__new__(VisionIpcServer).start_listener()
  with pytest.raises(TypeError, match="never initialized"):
    VisionIpcClient.__new__(VisionIpcClient).recv(10)
  buf_type = type(server.get_buffer(VISION_STREAM_ROAD))
  with pytest.raises(TypeError):
    buf_type.__new__(buf_type)
