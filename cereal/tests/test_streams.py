"""The stream table: every service it names is a service of the right kind,
and the C++ header generated from it says the same."""
import os
import re
import subprocess
import sys

from cereal.services import SERVICE_LIST
from cereal.streams import CAMERAS, VIDEOS

CEREAL = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_names_are_services_of_their_kind():
  for name, c in CAMERAS.items():
    assert SERVICE_LIST[c.state_service].should_log, name
    assert c.vision_stream.startswith("VISION_STREAM_"), name
  for name, v in VIDEOS.items():
    assert v.camera in CAMERAS, name
    assert not SERVICE_LIST[v.data_service].should_log, name  # packets go to the video file
    assert SERVICE_LIST[v.idx_service].decimation == 1, name  # the index is always in qlog
  assert len({v.file for v in VIDEOS.values()}) == len(VIDEOS)
  assert [n for n, v in VIDEOS.items() if v.qcamera] == ["qcamera"]


def test_generated_header_matches(tmp_path):
  out = tmp_path / "streams.h"
  subprocess.run([sys.executable, os.path.join(CEREAL, "gen_streams_h.py"), str(out)], check=True)
  text = out.read_text()
  cameras = re.findall(r'\{Camera::\w+, "(\w+)", (\w+), "(\w+)", Event::\w+\}', text)
  assert cameras == [(n, c.vision_stream, c.state_service) for n, c in CAMERAS.items()]
  videos = re.findall(r'\{VideoId::\w+, "(\w+)", Camera::(\w+), "(\w+)", "(\w+)", "([\w.]+)", (true|false),', text)
  assert videos == [(n, v.camera.capitalize(), v.data_service, v.idx_service, v.file, str(v.qcamera).lower())
                    for n, v in VIDEOS.items()]
