#!/usr/bin/env python3
"""Writes the C++ stream table (cereal/gen/streams.h) from cereal/streams.py,
so the table is written down once. Usage: gen_streams_h.py OUTPUT"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_services_h import load_table  # noqa: E402


def load_streams():
  mod = load_table("streams")
  return mod.CAMERAS, mod.VIDEOS


def which(service):
  """The Event::Which enumerant of a union member, as capnp's C++ code names it."""
  return "Event::" + re.sub(r"([A-Z])", r"_\1", service).upper()


def enumerant(name):
  return name[0].upper() + name[1:]


def render(cameras, videos):
  camera_ids = ", ".join(enumerant(n) for n in cameras)
  video_ids = ", ".join(enumerant(n) for n in videos)
  camera_rows = "\n".join(
    f'    {{Camera::{enumerant(n)}, "{n}", {c.vision_stream}, "{c.state_service}", {which(c.state_service)}}},'
    for n, c in cameras.items())
  video_rows = "\n".join(
    f'    {{VideoId::{enumerant(n)}, "{n}", Camera::{enumerant(v.camera)}, "{v.data_service}", "{v.idx_service}", '
    f'"{v.file}", {str(v.qcamera).lower()}, {which(v.data_service)}, {which(v.idx_service)}}},'
    for n, v in videos.items())
  return f"""#pragma once
// Generated from cereal/streams.py by cereal/gen_streams_h.py. Do not edit.
// The stream table: the cameras, and the videos encoderd makes of them.
#include <array>

#include "cereal/gen/log.capnp.h"
#include "visionipc/visionipc.h"

namespace cereal {{

enum class Camera : int {{ {camera_ids} }};

struct CameraInfo {{
  Camera id;
  const char *name;                // command lines and logs
  VisionStreamType vision_stream;  // its frames
  const char *state_service;       // its FrameData
  Event::Which state_which;
}};

inline constexpr std::array<CameraInfo, {len(cameras)}> kCameras = {{{{
{camera_rows}
}}}};

enum class VideoId : int {{ {video_ids} }};

struct Video {{
  VideoId id;
  const char *name;
  Camera camera;             // whose frames it encodes
  const char *data_service;  // EncodeData: packets
  const char *idx_service;   // EncodeIndex: where each frame is
  const char *file;          // in the segment directory
  bool qcamera;              // small H.264 in MPEG-TS; else full-resolution HEVC, Annex B
  Event::Which data_which, idx_which;
}};

inline constexpr std::array<Video, {len(videos)}> kVideos = {{{{
{video_rows}
}}}};

constexpr const CameraInfo &camera_info(Camera c) {{ return kCameras[int(c)]; }}
constexpr const Video &video(VideoId v) {{ return kVideos[int(v)]; }}
// The VisionIPC stream of the frames a video holds.
constexpr VisionStreamType vision_stream(const Video &v) {{ return camera_info(v.camera).vision_stream; }}

}}  // namespace cereal
"""


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: gen_streams_h.py OUTPUT")
  text = render(*load_streams())
  with open(sys.argv[1], "w") as f:
    f.write(text)
