"""Events whose head is sound but which hold a pointer capnp cannot follow:
what a buggy or hostile publisher can put on the bus. Readers that check only
the framing or the head pass them on; reading the field then throws."""
import struct


def _float_list_pointer(data, count):
  """Byte offset of the list pointer to `count` 4-byte elements (capnp element size code 4)."""
  for at in range(0, len(data), 8):
    (v,) = struct.unpack_from('<Q', data, at)
    if v & 3 == 1 and (v >> 32) & 7 == 4 and v >> 35 == count:
      return at
  raise ValueError(f'no list pointer to {count} floats')


def poison_float_list(data, count):
  """`data` with its list pointer to `count` floats aimed past the end of the message."""
  out = bytearray(data)
  at = _float_list_pointer(out, count)
  (v,) = struct.unpack_from('<Q', out, at)
  struct.pack_into('<Q', out, at, v | 0x1fffffff << 2)  # the largest forward offset
  return bytes(out)


def calibration(messaging, poisoned=False):
  """A serialized liveCalibration Event with a 3x3 warp matrix; its matrix
  pointer broken when `poisoned`."""
  msg = messaging.new_message('liveCalibration')
  warp = msg.liveCalibration.init('warpMatrix', 9)
  for i, v in enumerate((1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)):
    warp[i] = v
  data = msg.to_bytes()
  return poison_float_list(data, 9) if poisoned else data
