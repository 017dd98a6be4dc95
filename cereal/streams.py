"""The one table of camera streams. A camera publishes its frames on a VisionIPC
stream and their metadata (FrameData) on its state service; encoderd turns a
camera's frames into videos, each published on an EncodeData service (packets)
and an EncodeIdx service (index), and loggerd writes each video to its file in
the segment directory.

  CAMERAS  name: (VisionIPC stream, state service)
  VIDEOS   name: (camera, data service, index service, file, qcamera)
           qcamera: the small H.264 stream in MPEG-TS; otherwise the camera's
           full-resolution HEVC, Annex B

C++ gets the same table from cereal/gen/streams.h, generated from this file at
build time by cereal/gen_streams_h.py; cereal/streams.h adds its helpers.
"""
from typing import NamedTuple


class Camera(NamedTuple):
  vision_stream: str   # visionipc.h enum member
  state_service: str   # FrameData service


class Video(NamedTuple):
  camera: str
  data_service: str
  idx_service: str
  file: str
  qcamera: bool


CAMERAS = {
  "road": Camera("VISION_STREAM_ROAD", "roadCameraState"),
  "wide": Camera("VISION_STREAM_WIDE_ROAD", "wideRoadCameraState"),
  "driver": Camera("VISION_STREAM_DRIVER", "driverCameraState"),
}

VIDEOS = {
  "road": Video("road", "roadEncodeData", "roadEncodeIdx", "fcamera.hevc", False),
  "wide": Video("wide", "wideRoadEncodeData", "wideRoadEncodeIdx", "ecamera.hevc", False),
  "driver": Video("driver", "driverEncodeData", "driverEncodeIdx", "dcamera.hevc", False),
  "qcamera": Video("road", "qRoadEncodeData", "qRoadEncodeIdx", "qcamera.ts", True),
}
