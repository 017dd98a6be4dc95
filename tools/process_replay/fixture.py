"""The route the committed references were made from: tools/replay's synthetic
fixture (a pure function of these options), written in a few tenths of a
second, so tests record it themselves instead of committing it.

  python -m tools.process_replay.fixture DIR   # then: process_replay DIR/fixture--0 --update-refs
"""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPTIONS = ["--segments", "1", "--frames", "20", "--size", "320x240", "--gop", "10"]


def write_fixture(directory):
  """Writes the fixture route under `directory`; returns its segment directory."""
  subprocess.run([os.path.join(ROOT, "build", "bin", "replay_fixture"), "--dir", directory, *OPTIONS], check=True,
                 capture_output=True)
  return os.path.join(directory, "fixture--0")


if __name__ == "__main__":
  print(write_fixture(sys.argv[1]))
