"""Tests for experiments.progress: the lines a user reads while an experiment runs."""

import jax
from absl.testing import absltest

from experiments import progress
from gan_theory import engine, sharding


def _progress(phase, steps_done, **changes):
  fields = dict(
      phase=phase, layout=sharding.layout(12, 8), steps_done=steps_done, num_steps=5000,
      num_runs=12, num_diverged=0, compile_seconds=9.4, train_seconds=10.0,
      resumed_from_step=0,
  )
  return engine.Progress(**{**fields, **changes})


class LogProgressTest(absltest.TestCase):

  def lines(self, *reports, **kwargs):
    with self.assertLogs(level="INFO") as logs:
      for report in reports:
        progress.log_progress(report, **kwargs)
    return [record.getMessage() for record in logs.records]

  def test_each_phase_in_order(self):
    lines = self.lines(
        _progress(engine.COMPILING, 0), _progress(engine.TRAINING, 0),
        _progress(engine.TRAINING, 500), _progress(engine.FINISHING, 5000, train_seconds=48.2),
        finishing="the two-sample tests",
    )
    self.assertEqual(lines, [
        "cpu backend, 1 device of 1 process: 12 runs, 2 vmap groups of 6 runs per device;"
        " compiling",
        "compiled in 9 s; training",
        "step 500/5000, 12 runs (0 diverged), 600 run-steps/s, 90 s left",
        "trained in 48 s; the two-sample tests",
    ])

  def test_rate_and_time_left_count_only_the_steps_since_the_resume(self):
    lines = self.lines(
        _progress(engine.TRAINING, 3000, resumed_from_step=3000),
        _progress(engine.TRAINING, 3500, resumed_from_step=3000),
        what="k = 5: ",
    )
    self.assertEqual(lines, [
        "k = 5: compiled in 9 s; resuming from the checkpoint at step 3000",
        "k = 5: step 3500/5000, 12 runs (0 diverged), 600 run-steps/s, 30 s left",
    ])

  def test_every_run_diverged_says_it_stops(self):
    (line,) = self.lines(_progress(engine.TRAINING, 500, num_diverged=12))
    self.assertEqual(line, "step 500/5000, 12 runs (12 diverged), 600 run-steps/s, stopping:"
                           " every run diverged")

  def test_the_devices_every_experiment_states_first(self):
    self.assertEqual(progress.devices_line(jax.devices()), "cpu backend, 1 device of 1 process")

  def test_padding_and_processes_are_counted(self):
    layout = sharding.layout(13, 4)
    self.assertEqual(progress.layout_line(layout), "cpu backend, 1 device of 1 process: 13 runs"
                     " (+3 padding), 4 vmap groups of 4 runs per device")


if __name__ == "__main__":
  absltest.main()
