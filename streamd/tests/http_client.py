"""A raw HTTP/1.1 client for the streamd tests: exact bytes in, status, headers
and body out, so malformed requests can be sent as they are."""
import socket


class Response:
  def __init__(self, status, headers, body):
    self.status, self.headers, self.body = status, headers, body


def read_response(sock, head_only=False):
  """One HTTP/1.1 response from `sock` (Content-Length bodies, or to the close)."""
  data = b''
  while b'\r\n\r\n' not in data:
    chunk = sock.recv(65536)
    if not chunk:
      raise ConnectionError(f'closed after {data!r}')
    data += chunk
  head, _, body = data.partition(b'\r\n\r\n')
  lines = head.decode().split('\r\n')
  status = int(lines[0].split()[1])
  headers = {k.lower(): v for k, v in (ln.split(': ', 1) for ln in lines[1:])}
  if head_only:
    return Response(status, headers, body)
  if 'content-length' in headers:
    n = int(headers['content-length'])
    while len(body) < n:
      chunk = sock.recv(min(1 << 20, n - len(body)))
      if not chunk:
        raise ConnectionError(f'body cut at {len(body)} of {n}')
      body += chunk
  else:
    while chunk := sock.recv(65536):
      body += chunk
  return Response(status, headers, body)


def request(port, raw, timeout=10, head_only=False):
  """Sends raw request bytes on a new connection; returns the Response."""
  with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
    s.sendall(raw)
    return read_response(s, head_only)


def get(port, path, headers=None, method='GET', timeout=10):
  extra = ''.join(f'{k}: {v}\r\n' for k, v in (headers or {}).items())
  return request(port, f'{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n'.encode(),
                 timeout, head_only=method == 'HEAD')


def answers(port, path):
  """Whether a HEAD of `path` is answered 200 (False while the server is not listening yet)."""
  try:
    return get(port, path, method='HEAD').status == 200
  except OSError:
    return False
