import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from manager.params import Params  # noqa: E402


@pytest.fixture
def params(tmp_path, monkeypatch):
  monkeypatch.setenv('CONDUIT_PARAMS_DIR', str(tmp_path))
  return Params()


def test_defaults_and_typed_round_trip(params):
  assert params.get('SegmentSeconds') == 60
  params.put('SegmentSeconds', 5)
  params.put('EnabledCameras', ['road'])
  params.put('DeleterFreePercent', 12)  # an int is a fine float
  assert params.get('SegmentSeconds') == 5
  assert params.get('EnabledCameras') == ['road']
  assert params.get('DeleterFreePercent') == 12.0 and isinstance(params.get('DeleterFreePercent'), float)
  assert Params().get('SegmentSeconds') == 5  # another instance (or process) sees it
  params.delete('SegmentSeconds')
  assert params.get('SegmentSeconds') == 60


def test_files_are_owner_only(params):
  params.put('ModelBackend', 'cpu')
  assert os.stat(os.path.join(params.path, 'ModelBackend')).st_mode & 0o777 == 0o600


def test_unknown_key_and_wrong_type_are_clear_errors(params):
  with pytest.raises(ValueError, match='unknown param'):
    params.get('NoSuchKey')
  with pytest.raises(TypeError, match='SegmentSeconds takes int, got str'):
    params.put('SegmentSeconds', '5')
  with pytest.raises(TypeError, match='ModelEnabled takes bool'):
    params.put('ModelEnabled', 1)


def test_corrupt_value_is_reported(params):
  with open(os.path.join(params.path, 'Fps'), 'w') as f:
    f.write('{not json')
  with pytest.raises(ValueError, match='Fps .* is corrupt'):
    params.get('Fps')


def test_concurrent_writers_never_expose_a_partial_value(params):
  values = [['road'] * 200, ['wide'] * 300]
  stop = False
  seen_bad = []

  def reader():
    while not stop:
      v = params.get('EnabledCameras')
      if v not in values and v != ['road', 'wide']:
        seen_bad.append(v)

  t = threading.Thread(target=reader)
  t.start()
  for i in range(300):
    params.put('EnabledCameras', values[i % 2])
  stop = True
  t.join()
  assert not seen_bad
  assert not [f for f in os.listdir(params.path) if f.startswith('.')], 'temp files left behind'
