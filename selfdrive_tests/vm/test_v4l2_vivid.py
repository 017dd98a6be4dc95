"""camerad's V4L2 source against a real driver: Debian's kernel boots under QEMU
(TCG) with the vivid virtual capture driver, and camerad and VisionIPC clients
(camerad/tests/v4l2_guest_client.cc) run inside; this side reads the console.

One boot runs every scenario in turn (about 30 s here): two clients checking
vivid's colour bars frame by frame on the dmabuf path (NV12) and on the copy
path (I420); a client holding a buffer while another reads; a client killed
while it holds one; the multi-planar API (I420, dmabuf); the device vanishing
mid-stream, and camerad started again once it is back. Frames are 640x360:
vivid draws every frame on the guest's emulated CPU, which TCG makes slow at
full size (tools/bench/run v4l2 uses 1920x1080). Skips only where QEMU or the
kernel package is missing."""
import re

import pytest

from selfdrive_tests.vm import guest

SCRIPT = r'''
cd /tmp
export CONDUIT_PREFIX=vm
V=/conduit/v4l2_guest_client
start() { /conduit/camerad --source v4l2:/dev/video0 --cameras road --size 640x360 --fps 30 "$@" > /tmp/cam.log 2>&1 & CAM=$!; }
stop() { kill $CAM; wait $CAM; echo "CAMERAD_RC $1 $?"; sed "s/^/CAMLOG $1 /" /tmp/cam.log; }
client() { name=$1; shift; $V "$@" > /tmp/$name.out 2>&1; echo "rc=$?" >> /tmp/$name.out; sed "s/^/@$name /" /tmp/$name.out; }
wait_for() { i=0; while ! grep -q "$2" $1 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; }

start --pixel-format nv12 --v4l2-path dmabuf
client dma_a check 30 & A=$!
client dma_b check 30 & B=$!
wait $A; wait $B; stop dma

start --pixel-format yuv420p --v4l2-path copy
client copy_a check 30 & A=$!
client copy_b check 30 & B=$!
wait $A; wait $B; stop copy

start --pixel-format nv12 --v4l2-path dmabuf --buffers 2
$V hold 3 > /tmp/hold.out 2>&1 & H=$!
wait_for /tmp/hold.out HOLD
client hold_check check 20
wait $H; echo "rc=$?" >> /tmp/hold.out; sed "s/^/@hold /" /tmp/hold.out
stop hold

start --pixel-format nv12 --v4l2-path dmabuf --buffers 3
$V hold_forever > /tmp/killed.out 2>&1 & K=$!
wait_for /tmp/killed.out HELD
sed "s/^/@killed /" /tmp/killed.out
kill -9 $K
client seek seek $(sed -n "s/HELD idx=//p" /tmp/killed.out) 200
stop kill

rmmod vivid && modprobe vivid n_devs=1 node_types=0x1 multiplanar=2 && echo MPLANE_LOADED
start --pixel-format yuv420p
client mp_a check 20 & A=$!
client mp_b check 20 & B=$!
wait $A; wait $B
client disconnect disconnect /dev/video0
i=0; while kill -0 $CAM 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if kill -0 $CAM 2>/dev/null; then echo "VANISH hung"; kill -9 $CAM; else wait $CAM; echo "VANISH rc=$?"; fi
sed "s/^/CAMLOG vanish /" /tmp/cam.log

# What the manager does after that exit: camerad starts again, here once the device is back.
rmmod vivid && modprobe vivid n_devs=1 node_types=0x1 && echo RELOADED
start --pixel-format nv12
client restart check 10
stop restart
'''


def fields(line):
  return dict(kv.split('=', 1) for kv in line.split() if '=' in kv)


@pytest.fixture(scope='module')
def console():
  why = guest.unavailable()
  if why:
    pytest.skip(f'cannot boot a QEMU guest here: {why}')
  out = guest.boot(['build/bin/camerad', 'build/bin/v4l2_guest_client'], SCRIPT, timeout=240)
  assert 'GUEST_VIVID_LOADED vivid-000-vid-cap' in out, out[-3000:]
  assert 'GUEST_EXIT' in out, f'the guest script did not finish:\n{out[-3000:]}'
  return out


def client_lines(out, name, kind):
  """Parsed `kind` lines of client `name`, and its exit code."""
  lines = [fields(ln) for ln in out.splitlines() if ln.startswith(f'@{name} {kind} ')]
  rc = [ln for ln in out.splitlines() if ln.startswith(f'@{name} rc=')]
  return lines, (int(rc[0].split('=')[1]) if rc else None)


def camlog(out, name):
  return '\n'.join(ln[len(f'CAMLOG {name} '):] for ln in out.splitlines() if ln.startswith(f'CAMLOG {name} '))


def frames_dropped(log):
  m = re.search(r'road: (\d+) frames sent, (\d+) dropped, (\d+) copied \(path (\w+)\)', log)
  assert m, log
  return int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)


@pytest.mark.parametrize('path,scenario,uv_step', [('dmabuf', 'dma', '2'), ('copy', 'copy', '1')])
def test_two_clients_get_correct_pixels(console, path, scenario, uv_step):
  names = (f'{scenario}_a', f'{scenario}_b')
  for name in names:
    (c,), rc = client_lines(console, name, 'CHECK')
    assert rc == 0, c
    assert (c['frames'], c['ok'], c['bad'], c['rising']) == ('30', '30', '0', '1'), c
    assert int(c['osd_changes']) >= 25, c  # vivid's text line changes every frame: the pixels are live
    assert c['path'] == path, c          # what cameradState says
    assert c['layout'].endswith(f'uv_step{uv_step}'), c
    assert (c['copies'] == '0') == (path == 'dmabuf'), c
    # A frame a client was told about is still there when it gets to it: the
    # device gets a sent buffer back only when it runs short (camerad/device_return.h).
    # Reclaiming it at once lost most frames (100-400 dropped for 30 received).
    assert int(c['dropped']) < int(c['frames']), c
  sent, _, copied, logged = frames_dropped(camlog(console, scenario))
  assert logged == path and sent >= 30
  assert (copied == 0) if path == 'dmabuf' else (copied >= sent)


def test_dmabuf_layout_is_the_drivers(console):
  (c,), _ = client_lines(console, 'dma_a', 'CHECK')
  # The device's own 640-byte rows, not VisionIPC's padded buffers.
  assert c['layout'] == '640x360/stride640/uv_step2', c
  assert 'path dmabuf' in camlog(console, 'dma'), camlog(console, 'dma')


def test_held_buffer_is_never_refilled(console):
  (h,), rc = client_lines(console, 'hold', 'HOLD_DONE')
  assert rc == 0 and h['same'] == '1' and h['bars_ok'] == '1', h
  (c,), crc = client_lines(console, 'hold_check', 'CHECK')
  assert crc == 0 and c['bad'] == '0', c
  # The reader never got the held buffer while it was held...
  assert not int(c['seen'], 16) & (1 << int(h['idx'])), (c, h)
  # ...and with one of two buffers held the device ran short: frames dropped, counted.
  _, dropped, _, _ = frames_dropped(camlog(console, 'hold'))
  assert dropped > 0, camlog(console, 'hold')


def test_killed_client_releases_its_hold(console):
  (held,), _ = client_lines(console, 'killed', 'HELD')
  (s,), rc = client_lines(console, 'seek', 'SEEK')
  assert rc == 0 and s['seen'] == '1' and s['idx'] == held['idx'], (held, s)


def test_multiplanar_api(console):
  assert 'MPLANE_LOADED' in console
  for name in ('mp_a', 'mp_b'):
    (c,), rc = client_lines(console, name, 'CHECK')
    assert rc == 0 and c['bad'] == '0' and c['path'] == 'dmabuf', c
    assert int(c['dropped']) < int(c['frames']), c
    assert c['layout'] == '640x360/stride640/uv_step1', c
  assert '(mplane), path dmabuf' in camlog(console, 'vanish')


def test_vanished_device_ends_the_stream_with_a_clear_error(console):
  (d,), _ = client_lines(console, 'disconnect', 'DISCONNECT')
  assert d['ok'] == '1', d
  assert 'VANISH rc=1' in console, [ln for ln in console.splitlines() if 'VANISH' in ln]
  log = camlog(console, 'vanish')
  assert 'camerad: v4l2: /dev/video0 vanished' in log and 'unplugged or its driver removed' in log, log
  # Started again (the manager restarts it: restart='always'), it serves the returned device.
  assert 'RELOADED' in console
  (c,), rc = client_lines(console, 'restart', 'CHECK')
  assert rc == 0 and (c['frames'], c['bad'], c['path']) == ('10', '0', 'dmabuf'), c
