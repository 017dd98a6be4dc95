"""Poisoned events in a running pipeline and in a recorded log (chaos case `poison`)."""
from selfdrive_tests.chaos import poison


def test_poisoned_calibration_crashes_no_consumer_and_costs_readers_only_itself(tmp_path):
  fig = poison.run(poisoned=5, good=15, inject=5, tmp=tmp_path)
  assert fig['consumer_crashes'] == 0, fig
  assert fig['model_hz_after'] > 0, fig  # modeld kept publishing
  assert fig['events'] > 100, fig
  assert fig['logreader_lost'] == 0 and fig['lr_lost'] == 0, fig
  assert fig['bad_counted'] == 5, fig
