"""The GAN sweep: every generator objective over many seeds, compared paired.

Writes to the workdir: config.json (first, to claim it), checkpoints/ (snapshots of
the sweep, to resume from), then results.csv (a row per objective, seed and evaluation
step), summary.md (final metrics, mean ± standard error over seeds), samples.png and
curves.png. On several processes, only process 0 writes.
"""

import csv
import io

import jax
import ml_collections
import numpy as np
from absl import logging

from experiments import plots, workdir as workdir_lib
from experiments.checkpoints import SweepCheckpoints
from gan_theory import distributions, gan, metrics, sweep

CHECKPOINTS = "checkpoints"
OUTPUTS = ("config.json", CHECKPOINTS, "results.csv", "summary.md", "samples.png", "curves.png")
_PLOTTED_SEEDS = 4


def _log_progress(progress: sweep.Progress) -> None:
  run_steps = progress.steps_done * progress.num_runs
  rate = run_steps / max(progress.train_seconds, 1e-9)
  left = (progress.num_steps - progress.steps_done) * progress.num_runs / rate
  logging.info(
      "step %d/%d, %d runs (%d diverged), %.0f run-steps/s, %.0f s left",
      progress.steps_done, progress.num_steps, progress.num_runs, progress.num_diverged, rate,
      left,
  )


def _results_csv(result: sweep.SweepResult) -> str:
  names = list(gan.EvalMetrics._fields)
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(["objective", "seed", "step", "diverged_step", *names])
  for run, (objective, seed) in enumerate(zip(result.objectives, result.seeds)):
    diverged_step = int(result.diverged_step[run])
    diverged = str(diverged_step) if diverged_step >= 0 else ""
    for evaluation, step in enumerate(result.steps):
      values = [getattr(result.metrics, name)[run, evaluation] for name in names]
      cells = ("" if np.isnan(v) else f"{v:.9g}" for v in values)  # Blank after divergence.
      writer.writerow([objective, int(seed), int(step), diverged, *cells])
  return buffer.getvalue()


def _per_objective(result: sweep.SweepResult, values: np.ndarray) -> dict[str, np.ndarray]:
  objectives = np.asarray(result.objectives)
  return {name: values[objectives == name] for name in dict.fromkeys(result.objectives)}


def _summary_md(config: ml_collections.ConfigDict, result: sweep.SweepResult) -> str:
  names = gan.EvalMetrics._fields
  header = ["objective", "seeds", "diverged", *names]
  lines = [
      f"# {config.target}: final metrics at step {config.num_steps}",
      "",
      f"Mean ± standard error over seeds {config.first_seed}..{config.first_seed + config.num_seeds - 1}"
      f" (the same seeds, hence the same initial parameters and draws, for every objective);"
      " diverged runs are counted and left out of the means.",
      "high_quality is a percentage; mmd2 uses bandwidth"
      f" {config.mmd_bandwidth} on {config.mmd_samples} samples a side.",
      "",
      "| " + " | ".join(header) + " |",
      "|" + "---|" * len(header),
  ]
  columns = {name: _per_objective(result, getattr(result.metrics, name)[:, -1]) for name in names}
  diverged = _per_objective(result, result.diverged_step >= 0)
  for objective in config.objectives:
    cells = [objective, str(config.num_seeds), str(int(np.sum(diverged[objective])))]
    for name in names:
      mean, stderr = metrics.mean_and_stderr(columns[name][objective])
      cells.append(f"{float(mean):.4g} ± {float(stderr):.2g}")
    lines.append("| " + " | ".join(cells) + " |")
  steps_run = config.num_steps - result.resumed_from_step
  timing = (
      f"{len(result.seeds)} runs x {steps_run} steps in {result.train_seconds:.1f} s"
      f" ({len(result.seeds) * steps_run / max(result.train_seconds, 1e-9):.0f} run-steps/s)"
      f" after {result.compile_seconds:.1f} s of compilation, on {jax.device_count()}"
      f" {jax.devices()[0].platform} device(s)"
  )
  if result.resumed_from_step:
    timing += f", resumed from the checkpoint at step {result.resumed_from_step}"
  return "\n".join(lines + ["", timing + ".", ""])


def run(config: ml_collections.ConfigDict, workdir: str, overwrite: bool = False) -> None:
  """Runs the sweep of ``config`` and writes its results to ``workdir``.

  Raises:
    ConfigError: if the config is not valid; nothing compiles, nothing is written.
    WorkdirError: if the workdir cannot take the results; nothing compiles.
  """
  gan.validate(config)
  path = workdir_lib.claim_on_process_0(workdir, config, OUTPUTS, overwrite)
  with SweepCheckpoints(path / CHECKPOINTS) as checkpointer:
    result = sweep.run_sweep(config, on_progress=_log_progress, checkpointer=checkpointer)
  if jax.process_index() != 0:
    return

  target = distributions.make_target(config.target, **config[config.target])
  data = np.asarray(target.sample(jax.random.key(config.first_seed), 2000))
  seeds = result.seeds[: config.num_seeds][:_PLOTTED_SEEDS]
  samples = {
      objective: points[: len(seeds)]
      for objective, points in _per_objective(result, result.samples).items()
  }
  curves = {
      name: {
          objective: tuple(np.asarray(s) for s in metrics.mean_and_stderr(values))
          for objective, values in _per_objective(result, getattr(result.metrics, name)).items()
      }
      for name in gan.EvalMetrics._fields
  }

  workdir_lib.write_text(path / "results.csv", _results_csv(result))
  workdir_lib.write_text(path / "summary.md", _summary_md(config, result))
  workdir_lib.write_figure(
      path / "samples.png", plots.samples_figure(samples, seeds, data, np.asarray(target.modes))
  )
  workdir_lib.write_figure(
      path / "curves.png", plots.curves_figure(result.steps, curves, config.num_seeds)
  )
  logging.info("wrote %s to %s", ", ".join(OUTPUTS), path)
