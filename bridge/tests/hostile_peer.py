"""A hostile "bridge" for the bridge tests: binds the ports of testMessage and
bridgeState at --bind, as a bridge would, and sends rounds at 200 Hz, each a
frame too short for a sequence number, a two-part message, then a well-formed
testMessage (payload "round <i>"; "last" from round 300 on). Prints "ready"
once bound; runs until killed."""
import argparse
import itertools
import struct
import time

import zmq

import cereal.messaging as messaging
from cereal._cereal import bridge_port


def tag(topic):
  t = topic.encode() + b"\0"
  return t + b"\0" * (-len(t) % 8)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--bind", required=True)
  args = ap.parse_args()
  ctx = zmq.Context()
  socks = {}
  for topic in ("testMessage", "bridgeState"):
    socks[topic] = ctx.socket(zmq.PUB)
    socks[topic].bind(f"tcp://{args.bind}:{bridge_port(topic)}")
  print("ready", flush=True)
  t = tag("testMessage")
  for i in itertools.count():
    msg = messaging.new_message("testMessage")
    msg.testMessage.seq = i
    msg.testMessage.payload = b"last" if i >= 300 else f"round {i}".encode()
    pub = socks["testMessage"]
    pub.send(t + b"abc")
    pub.send_multipart([t + struct.pack("<Q", i) + b"first part", b"junk"])
    pub.send(t + struct.pack("<Q", i) + msg.to_bytes())
    socks["bridgeState"].send(tag("bridgeState") + struct.pack("<Q", i))
    time.sleep(0.005)


if __name__ == "__main__":
  main()
