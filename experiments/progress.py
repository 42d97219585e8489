"""Progress of an engine run, logged after each period."""

from absl import logging

from gan_theory import engine


def log_progress(progress: engine.Progress, what: str = "") -> None:
  """Logs the step, the runs (diverged ones counted), the speed and the time left.

  The speed counts only the steps taken since the start or the resume, in the time
  they took.

  Args:
    progress: where the run stands.
    what: which runs, for an experiment with several engine runs (such as ``"k = 5: "``).
  """
  steps = progress.steps_done - progress.resumed_from_step
  rate = steps * progress.num_runs / max(progress.train_seconds, 1e-9)
  left = (progress.num_steps - progress.steps_done) * progress.num_runs / max(rate, 1e-9)
  logging.info(
      "%sstep %d/%d, %d runs (%d diverged), %.0f run-steps/s, %.0f s left",
      what, progress.steps_done, progress.num_steps, progress.num_runs, progress.num_diverged,
      rate, left,
  )
