"""Writes the seed corpora of the libFuzzer targets (<component>/fuzz/corpus/<target>/):
valid inputs of each kind, made by the project's own code, for the fuzzer to mutate.
Run from the repository root after a normal build; the corpora are committed.

  PYTHONPATH=$PWD /usr/bin/python3 -m tools.lib.fuzz_seeds
"""
import hashlib
import os
import socket
import struct
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def write(folder, data):
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), 'wb') as f:
    f.write(data)


def events():
  """A few Events of the services the event_head target fuzzes, serialized."""
  from cereal import messaging
  cal = messaging.new_message('liveCalibration')
  cal.liveCalibration.rpyCalib = [0.01, -0.02, 0.03]
  frame = messaging.new_message('roadCameraState')
  frame.roadCameraState.frameId = 7
  model = messaging.new_message('modelV2')
  model.modelV2.frameId = 7
  text = messaging.new_message('logMessage')
  text.logMessage.processName = 'seed'
  text.logMessage.message = 'hello'
  return {'liveCalibration': cal, 'roadCameraState': frame, 'modelV2': model, 'logMessage': text}


def event_head_seeds(folder):
  order = ['liveCalibration', 'roadCameraState', 'modelV2', 'logMessage']  # as in event_head_fuzz.cc
  for name, msg in events().items():
    write(folder, bytes([order.index(name)]) + msg.to_bytes())


def log_file_seeds(folder):
  raw = b''.join(m.to_bytes() for m in events().values())
  write(folder, raw)
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'rlog')
    with open(path, 'wb') as f:
      f.write(raw)
    subprocess.run(['zstd', '-q', '--check', '-f', path], check=True)
    with open(path + '.zst', 'rb') as f:
      write(folder, f.read())


def model_seeds(folder):
  import numpy as np
  from modeld.onnx_compiler import compile_model
  from modeld.tests.helpers import one_op_model
  x = {'x': [1, 2, 4, 4]}
  models = [
    one_op_model('Relu', x),
    one_op_model('Conv', x, consts={'w': np.ones((2, 2, 3, 3), np.float32)}, attrs={'pads': [1, 1, 1, 1]}),
    one_op_model('MaxPool', x, attrs={'kernel_shape': [2, 2], 'strides': [2, 2]}),
    one_op_model('Gemm', {'a': [2, 3]}, consts={'b': np.ones((3, 4), np.float32)}),
    one_op_model('Softmax', {'x': [2, 5]}),
  ]
  for m in models:
    write(folder, compile_model(m))


def msgq_seeds(folder):
  """A ring file of 4 KiB with messages in it, as a publisher leaves it."""
  from cereal import messaging
  prefix = f'fuzzseed{os.getpid()}'
  os.environ['CONDUIT_PREFIX'] = prefix
  try:
    pub = messaging.pub_sock('liveCalibration')
    for m in events().values():
      pub.send(m.to_bytes())
    path = f'/dev/shm/conduit_{prefix}/liveCalibration'
    with open(path, 'rb') as f:
      ring = f.read()
  finally:
    subprocess.run(['rm', '-rf', f'/dev/shm/conduit_{prefix}'], check=True)
  # The fuzz target's topic is 4 KiB (+ the 8 KiB header); keep the start of the ring.
  header = 8192
  data = bytearray(ring[:header + 4096])
  struct.pack_into('<Q', data, 16, 4096)  # ring_bytes
  write(folder, bytes(data))


def vipc_seeds(folder):
  """The reply a real server sends, its fds' sizes and control block, and an announcement."""
  from visionipc import VISION_STREAM_ROAD, VisionIpcServer
  prefix = f'fuzzseed{os.getpid()}'
  os.environ['CONDUIT_PREFIX'] = prefix
  try:
    server = VisionIpcServer('seed')
    server.create_buffers(VISION_STREAM_ROAD, 2, 64, 32, 'nv12')
    server.start_listener()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(f'/dev/shm/conduit_{prefix}/vipc_seed.sock')
    s.send(struct.pack('<IIIi', 0x43504956, 3, 1, VISION_STREAM_ROAD))
    reply, fds, _, _ = socket.recv_fds(s, 4096, 16)
    sizes = [os.fstat(fd).st_size for fd in fds]
    control = os.pread(fds[0], 4096, 0)
    server_id = struct.unpack_from('<Q', reply, 16)[0]
    for fd in fds:
      os.close(fd)
    s.close()
    del server
  finally:
    subprocess.run(['rm', '-rf', f'/dev/shm/conduit_{prefix}'], check=True)
  announce = struct.pack('<IIQIIQQQQII', 0x4e4e4156, 1, server_id, 0, 5, 0, 1, 2, 3, 1, 0)
  fd_part = bytes([len(sizes)]) + b''.join(struct.pack('<I', n) for n in sizes)
  write(folder, reply + fd_part + control.ljust(4096, b'\0') + announce)


def main():
  def corpus(component, target):
    return os.path.join(ROOT, component, 'fuzz', 'corpus', target)

  event_head_seeds(corpus('cereal', 'event_head'))
  log_file_seeds(corpus('loggerd', 'log_file_reader'))
  model_seeds(corpus('modeld', 'model_file'))
  msgq_seeds(corpus('msgq', 'msgq_attach'))
  vipc_seeds(corpus('visionipc', 'vipc_client'))


if __name__ == '__main__':
  main()
