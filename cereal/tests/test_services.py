"""The services table: one row per Event union member, and the C++ header
generated from it says the same."""
import os
import re
import subprocess
import sys

from cereal import log
from cereal._cereal import max_message_size
from cereal.services import SERVICE_LIST, Service

CEREAL = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_every_union_member_is_a_service_and_back():
  assert set(log.Event.union_fields) == set(SERVICE_LIST)


def test_rows_are_sane():
  for name, s in SERVICE_LIST.items():
    assert isinstance(s, Service)
    assert isinstance(s.should_log, bool) and s.frequency >= 0, name
    assert s.decimation is None or (isinstance(s.decimation, int) and s.decimation >= 1), name
    assert s.ring_size >= 64 * 1024 and s.ring_size % 4096 == 0, name
    assert s.loan == 0 or (s.loan % 8 == 0 and s.loan <= max_message_size(s.ring_size)), name
  for idx in ("roadEncodeIdx", "wideRoadEncodeIdx", "driverEncodeIdx", "qRoadEncodeIdx"):
    assert SERVICE_LIST[idx].decimation == 1
  for data in ("roadEncodeData", "wideRoadEncodeData", "driverEncodeData"):
    # A ~1 MB HEVC keyframe with its header must fit with room to spare.
    assert max_message_size(SERVICE_LIST[data].ring_size) >= 4 * 1024 * 1024


def test_generated_header_matches(tmp_path):
  out = tmp_path / "services.h"
  subprocess.run([sys.executable, os.path.join(CEREAL, "gen_services_h.py"), str(out)], check=True)
  rows = re.findall(r'\{"(\w+)", (true|false), ([0-9.e+-]+), (-?\d+), (\d+)u, (\d+)u\}', out.read_text())
  assert [r[0] for r in rows] == list(SERVICE_LIST)
  for name, should_log, freq, decimation, ring, loan in rows:
    s = SERVICE_LIST[name]
    assert (should_log == "true", float(freq), int(decimation), int(ring), int(loan)) == \
      (s.should_log, s.frequency, -1 if s.decimation is None else s.decimation, s.ring_size, s.loan)
