"""camerad: the camera process (build/bin/camerad). From Python, the synthetic
scene it serves, so a consumer can verify the frames it received:

  from camerad import render, read_stamp
  nv12 = render('road', frame_id, 1928, 1208)      # (1812, 1928) uint8
  i420 = render('road', frame_id, 1928, 1208, 'yuv420p')
  frame_id, camera = read_stamp(y_plane)           # or None
"""
from camerad._synthetic import read_stamp, render

__all__ = ['render', 'read_stamp']
