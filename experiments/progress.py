"""Progress of an engine run, logged as each phase begins and after each period."""

from absl import logging

from gan_theory import engine, sharding


def _count(n: int, thing: str, things: str = "") -> str:
  return f"{n:,} {thing if n == 1 else things or thing + 's'}"


def devices_line(devices) -> str:
  """The backend, devices and processes, such as "cpu backend, 2 devices of 1 process"."""
  devices = list(devices)
  processes = len({device.process_index for device in devices})
  return (f"{devices[0].platform} backend, {_count(len(devices), 'device')} of"
          f" {_count(processes, 'process', 'processes')}")


def layout_line(layout: sharding.Layout) -> str:
  """Where the runs go, such as "cpu backend, 2 devices of 1 process: 12 runs, 1 vmap group
  of 6 runs per device"."""
  groups = layout.padded_runs // layout.mesh.size // layout.group_size
  padding = layout.padded_runs - layout.num_runs
  return (
      f"{devices_line(layout.mesh.devices.flat)}: {_count(layout.num_runs, 'run')}"
      + (f" (+{padding} padding)" if padding else "")
      + f", {_count(groups, 'vmap group')} of {_count(layout.group_size, 'run')} per device"
  )


def log_progress(
    progress: engine.Progress, what: str = "", finishing: str = "evaluating the final states"
) -> None:
  """Logs where the layout puts the runs, compilation, each period and the phase after it.

  A period's line has the step, the runs (diverged ones counted), the speed and the
  time left; the speed counts only the steps taken since the start or the resume, in
  the time they took.

  Args:
    progress: where the run stands.
    what: which runs, for an experiment with several engine runs (such as ``"k = 5: "``).
    finishing: what ``finish`` does once training is over.
  """
  if progress.phase == engine.COMPILING:
    logging.info("%s%s; compiling", what, layout_line(progress.layout))
  elif progress.phase == engine.FINISHING:
    logging.info("%strained in %.0f s; %s", what, progress.train_seconds, finishing)
  elif progress.steps_done == progress.resumed_from_step:  # Training begins.
    start = (f"resuming from the checkpoint at step {progress.steps_done}"
             if progress.steps_done else "training")
    logging.info("%scompiled in %.0f s; %s", what, progress.compile_seconds, start)
  else:
    steps = progress.steps_done - progress.resumed_from_step
    rate = steps * progress.num_runs / max(progress.train_seconds, 1e-9)
    left = (progress.num_steps - progress.steps_done) * progress.num_runs / max(rate, 1e-9)
    then = (f"{left:.0f} s left" if progress.num_diverged < progress.num_runs
            else "stopping: every run diverged")
    logging.info(
        "%sstep %d/%d, %d runs (%d diverged), %.0f run-steps/s, %s",
        what, progress.steps_done, progress.num_steps, progress.num_runs,
        progress.num_diverged, rate, then,
    )
