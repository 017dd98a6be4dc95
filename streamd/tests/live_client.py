"""A client of streamd's /live/video for tests and the benchmark: reads the
fragmented MP4 as it comes and records, per fragment, its sequence number
(mfhd), media time (tfdt, 90 kHz) and arrival time (CLOCK_MONOTONIC ns).
Capture time of fragment n = X-Stream-Start-Ns + tfdt of fragment n+1 (see
streamd/fmp4_fragmenter.h); capture_lags_ms() pairs them."""
import socket
import struct
import time


class LiveClient:
  def __init__(self, port, rcvbuf=None, timeout=10):
    self.sock = socket.socket()
    if rcvbuf:
      self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    self.sock.settimeout(timeout)
    self.sock.connect(('127.0.0.1', port))
    self.sock.sendall(b'GET /live/video HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    self.buf = b''
    self.status = None
    self.start_ns = None   # X-Stream-Start-Ns: timestampSof of media time 0
    self.data = b''        # everything after the head
    self.fragments = []    # (seq, tfdt, arrival ns)

  def fileno(self):
    return self.sock.fileno()

  def read_head(self):
    while b'\r\n\r\n' not in self.buf:
      chunk = self.sock.recv(65536)
      if not chunk:
        raise ConnectionError(f'closed before the head: {self.buf!r}')
      self.buf += chunk
    head, _, self.buf = self.buf.partition(b'\r\n\r\n')
    self.data = self.buf
    lines = head.decode().split('\r\n')
    self.status = int(lines[0].split()[1])
    for line in lines[1:]:
      k, _, v = line.partition(': ')
      if k.lower() == 'x-stream-start-ns':
        self.start_ns = int(v)
    return self.status

  def pump(self):
    """Reads what is there (non-blocking use: after select); False at end of stream."""
    chunk = self.sock.recv(1 << 20)
    if not chunk:
      return False
    now = time.monotonic_ns()
    self.data += chunk
    self.buf += chunk
    while len(self.buf) >= 8:
      size, kind = struct.unpack('>I4s', self.buf[:8])
      if size < 8 or len(self.buf) < size:
        break
      if kind == b'moof':
        self.fragments.append((*moof_seq_tfdt(self.buf[8:size]), now))
      self.buf = self.buf[size:]
    return True

  def capture_lags_ms(self, first=0):
    """Arrival minus capture time of every fragment from index `first` whose capture time is known."""
    f = self.fragments
    return [(f[i][2] - (self.start_ns + f[i + 1][1] * 100000 // 9)) / 1e6 for i in range(first, len(f) - 1)]

  def close(self):
    self.sock.close()


def boxes(data):
  while len(data) >= 8:
    size, kind = struct.unpack('>I4s', data[:8])
    if size < 8:
      return
    yield kind, data[8:size]
    data = data[size:]


def moof_seq_tfdt(moof):
  seq = tfdt = None
  for kind, body in boxes(moof):
    if kind == b'mfhd':
      seq = struct.unpack('>I', body[4:8])[0]
    elif kind == b'traf':
      for k, b in boxes(body):
        if k == b'tfdt':
          tfdt = struct.unpack('>Q', b[4:12])[0] if b[0] == 1 else struct.unpack('>I', b[4:8])[0]
  return seq, tfdt
