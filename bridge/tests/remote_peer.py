"""A subscriber on another host for the bridge tests, in Python: reads
testMessage from the bridge at --addr and prints, unbuffered, "ready" at the
first message, then one line per message until one with payload b"last":
  sub_sock:  the message's bytes in hex
  submaster: "<seq> <payload hex>" of sm['testMessage']
and at the end "lost <n> bad <n>" (messages that never arrived, by sequence
number; frames refused as malformed: bad_messages, SubMaster only).
A connection error is printed as "error <message>" (exit status 2)."""
import argparse
import sys
import time

import cereal.messaging as messaging


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("api", choices=["sub_sock", "submaster"])
  ap.add_argument("--addr", required=True)
  ap.add_argument("--seconds", type=float, default=30)
  args = ap.parse_args()
  try:
    if args.api == "sub_sock":
      sock = messaging.sub_sock("testMessage", addr=args.addr, timeout=100)
    else:
      sm = messaging.SubMaster(["testMessage"], addr=args.addr)
  except messaging.MsgqError as e:
    print("error", e, flush=True)
    sys.exit(2)
  first, deadline = True, time.monotonic() + args.seconds
  while time.monotonic() < deadline:
    if args.api == "sub_sock":
      dat = sock.receive()
      if dat is None:
        continue
      payload, line = messaging.log_from_bytes(dat).testMessage.payload, dat.hex()
    else:
      sm.update(100)
      if not sm.updated["testMessage"]:
        continue
      m = sm["testMessage"]
      payload, line = m.payload, f"{m.seq} {m.payload.hex()}"
    if first:
      print("ready", flush=True)
      first = False
    print(line, flush=True)
    if payload == b"last":
      break
  if args.api == "sub_sock":
    print("lost", sock.lost(), flush=True)
  else:
    print("lost", sm.lost["testMessage"], "bad", sm.bad_messages["testMessage"], flush=True)


if __name__ == "__main__":
  main()
