"""Headless Chromium driven over the DevTools protocol (python3-websocket), for
tests that open the streamd page: evaluate JavaScript, wait for a condition,
take screenshots. One page per Browser; close() ends Chromium and removes its
profile (also when a test fails: use it as a context manager)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

from common.testing.process import stop

CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--autoplay-policy=no-user-gesture-required', '--mute-audio', '--window-size=1000,1400']


class Browser:
  def __init__(self, timeout=30):
    self.profile = tempfile.mkdtemp(prefix='streamd-chromium-')
    # Without a preloaded sanitizer runtime (test.sh's ASan gate preloads one
    # for python): Chromium, with its own allocator, does not start with it.
    env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'}
    self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f'--user-data-dir={self.profile}', '--remote-debugging-port=0',
                                  'about:blank'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
      port = self._devtools_port(timeout)
      with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=timeout) as r:
        page = next(t for t in json.load(r) if t['type'] == 'page')
      self.ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=timeout, suppress_origin=True)
    except BaseException:
      self.close()
      raise
    self.next_id = 0

  def _devtools_port(self, timeout):
    path = os.path.join(self.profile, 'DevToolsActivePort')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      if self.proc.poll() is not None:
        raise RuntimeError(f'chromium exited with {self.proc.returncode} at start')
      if os.path.exists(path):
        with open(path) as f:
          first = f.readline().strip()
        if first:
          return int(first)
      time.sleep(0.05)
    raise TimeoutError('chromium did not open its DevTools port')

  def call(self, method, **params):
    self.next_id += 1
    self.ws.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
    while True:
      msg = json.loads(self.ws.recv())
      if msg.get('id') == self.next_id:
        if 'error' in msg:
          raise RuntimeError(f'{method}: {msg["error"]}')
        return msg['result']

  def eval(self, expression):
    """The value of a JavaScript expression (promises are awaited)."""
    r = self.call('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True, userGesture=True)
    if 'exceptionDetails' in r:
      raise RuntimeError(f'{expression}: {r["exceptionDetails"]}')
    return r['result'].get('value')

  def goto(self, url):
    self.call('Page.navigate', url=url)

  def wait(self, expression, timeout=20, what=None):
    """Waits until the expression is truthy; returns its value. TimeoutError names `what`."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
      try:
        value = self.eval(expression)
      except RuntimeError:
        value = None  # the page is still loading
      if value:
        return value
      time.sleep(0.1)
    raise TimeoutError(f'{what or expression}: still {value!r} after {timeout} s')

  def screenshot(self, path):
    with open(path, 'wb') as f:
      f.write(base64.b64decode(self.call('Page.captureScreenshot', format='png')['data']))
    return path

  def close(self):
    if getattr(self, 'ws', None):
      self.ws.close()
    stop(self.proc)
    shutil.rmtree(self.profile, ignore_errors=True)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
