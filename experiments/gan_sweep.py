"""The GAN sweep: every generator objective over many seeds, compared paired.

Writes to the workdir: config.json (first, to claim it), checkpoints/ (snapshots of
the sweep, to resume from), then results.csv (a row per run and evaluation step; a run is
an objective, its learning rates and a seed), two_sample.csv (with
config.two_sample_tests, a row per run: the final generator against held-out data by the
MMD and classifier two-sample tests and precision/recall), summary.md (final metrics,
mean ± standard error over seeds, a row per objective, or per objective and learning
rates where a list names several), samples.png, curves.png and gradient_share.png
(which samples of the final generators the gradient comes from, against D(G(z))). With a
generator that has a density, the metrics include the held-out negative log-likelihood
and the divergences, and summary.md starts with the headline table. On several
processes, only process 0 writes.
"""

import csv
import functools
import io
from pathlib import Path
from typing import NamedTuple

import jax
import ml_collections
import numpy as np

from experiments import checkpoints, plots, workdir as workdir_lib
from experiments.progress import log_progress
from gan_theory import distributions, gan, metrics, objectives, sweep, two_sample

OUTPUTS = (
    "config.json", checkpoints.DIRECTORY, "results.csv", "two_sample.csv", "summary.md",
    "samples.png", "curves.png", "gradient_share.png",
)
_PLOTTED_SEEDS = 4
# The headline comparison of objectives, when the generator has a density.
_HEADLINE = ("nll", "forward_kl", "reverse_kl", "jsd", "modes", "high_quality")
_SHARE_BINS = 10


class _Group(NamedTuple):
  """The runs of one objective at one setting of the learning rates: a row of the tables."""

  objective: str
  runs: np.ndarray  # Indices into the sweep's runs, one per seed.


def _groups(config: ml_collections.ConfigDict, result: sweep.SweepResult) -> dict[str, _Group]:
  """The sweep's groups by label, in run order: the objective, with the learning rates
  where a list names several."""
  several = {network: len(gan.learning_rates(config, network)) > 1
             for network in ("generator", "discriminator")}
  labels = []
  for run, objective in enumerate(result.objectives):
    rates = [f"lr_{network[0].upper()} {getattr(result.settings, f'{network}_learning_rate')[run]:.3g}"
             for network in ("generator", "discriminator") if several[network]]
    labels.append(f"{objective} ({', '.join(rates)})" if rates else objective)
  labels = np.asarray(labels)
  return {label: _Group(result.objectives[int(np.argmax(labels == label))],
                        np.flatnonzero(labels == label))
          for label in dict.fromkeys(labels)}


def _per_group(groups: dict[str, _Group], values: np.ndarray) -> dict[str, np.ndarray]:
  return {label: values[group.runs] for label, group in groups.items()}


class _GradientShares(NamedTuple):
  """Per group, numpy arrays over seeds: where the final generator's gradient comes from."""

  shares: dict[str, np.ndarray]  # [seeds, _SHARE_BINS]
  concentration: dict[str, np.ndarray]  # [seeds, num_samples]


def _gradient_shares(result: sweep.SweepResult, groups: dict[str, _Group]) -> _GradientShares:
  """For the objectives that read the discriminator; the others' gradients do not come
  through D(G(z))."""
  outputs, norms = result.sample_gradients
  share = functools.partial(metrics.gradient_shares, num_bins=_SHARE_BINS)
  # Jitted: eagerly, each op of the vmapped functions would compile on its own.
  shares = jax.jit(jax.vmap(share))(outputs, norms)
  concentration = jax.jit(jax.vmap(metrics.concentration_curve))(norms)
  return _GradientShares(*(
      {label: values for label, values in _per_group(groups, np.asarray(x)).items()
       if objectives.get(groups[label].objective).reads_discriminator}
      for x in (shares, concentration)
  ))


def _summarized(names: tuple[str, ...]) -> tuple[str, ...]:
  # A run's Monte Carlo standard errors stay in results.csv; summaries give them over seeds.
  return tuple(name for name in names if not name.endswith("_stderr"))


# The columns that say which run a row is.
_RUN_COLUMNS = ("objective", "generator_learning_rate", "discriminator_learning_rate", "seed")


def _run_cells(result: sweep.SweepResult, run: int) -> list[object]:
  # A float32's shortest text that reads back as it: 0.001, not 0.00100000005.
  rates = (np.float32(getattr(result.settings, f"{network}_learning_rate")[run])
           for network in ("generator", "discriminator"))
  return [result.objectives[run], *map(str, rates), int(result.seeds[run])]


def _results_csv(result: sweep.SweepResult, names: tuple[str, ...]) -> str:
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow([*_RUN_COLUMNS, "step", "diverged_step", *names])
  for run in range(len(result.seeds)):
    diverged_step = int(result.diverged_step[run])
    diverged = str(diverged_step) if diverged_step >= 0 else ""
    for evaluation, step in enumerate(result.steps):
      values = [getattr(result.metrics, name)[run, evaluation] for name in names]
      cells = ("" if np.isnan(v) else f"{v:.9g}" for v in values)  # Blank after divergence.
      writer.writerow([*_run_cells(result, run), int(step), diverged, *cells])
  return buffer.getvalue()


def _two_sample_csv(result: sweep.SweepResult) -> str:
  fields = two_sample.Evaluation._fields
  return workdir_lib.csv_text(
      [*_RUN_COLUMNS, *fields],
      ([*_run_cells(result, run),
        *("" if np.isnan(v) else f"{v:.6g}" for v in (getattr(result.two_sample, f)[run]
                                                       for f in fields))]
       for run in range(len(result.seeds))),
  )


def _two_sample_section(
    config: ml_collections.ConfigDict, result: sweep.SweepResult, groups: dict[str, _Group]
) -> list[str]:
  settings = config.two_sample
  fields = ("mmd_p_value", "classifier_accuracy", "precision", "recall", "density", "coverage")
  header = ["objective", "MMD rejects", "classifier rejects", "learned-kernel rejects", *fields]
  lines = [
      "## The final generators against held-out data",
      "",
      f"{settings.num_samples} generator samples per run against as many fresh data points:"
      f" the MMD permutation test ({settings.num_permutations} permutations, median"
      " bandwidth), the classifier two-sample test (held-out accuracy; 0.5 when the"
      " samples cannot be told from data), the MMD test with a kernel learned on half of"
      f" each sample (Liu et al. 2020), and k = {settings.num_neighbours}"
      " precision/recall/density/coverage. 'rejects': runs with p <= 0.05, of those that"
      " did not diverge.",
      "",
  ]
  columns = {f: _per_group(groups, getattr(result.two_sample, f)) for f in
             two_sample.Evaluation._fields}
  rows = []
  for label in groups:
    finite = ~np.isnan(columns["mmd_p_value"][label])
    cells = [label] + [
        f"{int(np.sum(columns[f'{test}_p_value'][label][finite] <= 0.05))}/{int(finite.sum())}"
        for test in ("mmd", "classifier", "learned_kernel")
    ]
    for field in fields:
      mean, stderr = metrics.mean_and_stderr(columns[field][label][finite])
      cells.append(f"{float(mean):.3g} ± {float(stderr):.2g}")
    rows.append(cells)
  return [*lines, workdir_lib.markdown_table(header, rows)]


def _table(
    result: sweep.SweepResult, groups: dict[str, _Group], names: tuple[str, ...]
) -> str:
  """A markdown table: a row per group, the final value of each metric over seeds."""
  columns = {name: _per_group(groups, getattr(result.metrics, name)[:, -1]) for name in names}
  diverged = _per_group(groups, result.diverged_step >= 0)
  rows = []
  for label, group in groups.items():
    cells = [label, len(group.runs), int(np.sum(diverged[label]))]
    for name in names:
      mean, stderr = metrics.mean_and_stderr(columns[name][label])
      cells.append(f"{float(mean):.4g} ± {float(stderr):.2g}")
    rows.append(cells)
  return workdir_lib.markdown_table(["objective", "seeds", "diverged", *names], rows)


def _best_settings(result: sweep.SweepResult, groups: dict[str, _Group]) -> dict[str, _Group]:
  """Each objective's group with the lowest mean final selection score (a draw of its own,
  not the reported metrics'); empty when no objective has more than one group."""
  if len(groups) == len({group.objective for group in groups.values()}):
    return {}
  scores = _per_group(groups, result.metrics.selection_score[:, -1])
  best = {}
  for label, group in groups.items():
    finite = scores[label][np.isfinite(scores[label])]  # A diverged run has no score.
    score = float(np.mean(finite)) if finite.size else np.inf
    if group.objective not in best or score < best[group.objective][0]:
      best[group.objective] = (score, label)
  return {label: groups[label] for _, label in best.values()}


def _gradient_share_section(shares: _GradientShares, num_samples: int) -> list[str]:
  top = {"top 1%": max(num_samples // 100, 1), "top 10%": max(num_samples // 10, 1)}
  low, high = f"D < {1 / _SHARE_BINS:g}", f"D >= {1 - 1 / _SHARE_BINS:g}"
  header = ["objective", *(f"share from {column}" for column in (low, high)),
            *(f"share of the {column} samples" for column in top)]
  lines = [
      "## Where the generator's gradient comes from",
      "",
      f"The final generators' gradients, sample by sample, on {num_samples} samples per run:"
      " the share of the total per-sample gradient norm from samples that the"
      f" discriminator rejects ({low}) or accepts ({high}), and the share held by the"
      " samples with the largest gradients (equal samples would give 1% and 10%).",
      "",
  ]
  rows = []
  for objective in shares.shares:
    columns = [
        shares.shares[objective][:, 0], shares.shares[objective][:, -1],
        *(shares.concentration[objective][:, k - 1] for k in top.values()),
    ]
    cells = []
    for values in columns:
      mean, stderr = metrics.mean_and_stderr(values)
      cells.append(f"{100 * float(mean):.3g}% ± {100 * float(stderr):.2g}")
    rows.append([objective, *cells])
  return [*lines, workdir_lib.markdown_table(header, rows)]


def _summary_md(
    config: ml_collections.ConfigDict, result: sweep.SweepResult, groups: dict[str, _Group],
    shares: _GradientShares,
) -> str:
  names = _summarized(gan.measured_metrics(config))
  lines = [
      f"# {config.target}, {config.generator.kind} generator: final metrics at step"
      f" {result.steps_done}",
      "",
      f"Mean ± standard error over seeds {config.first_seed}.."
      f"{config.first_seed + config.num_seeds - 1}"
      f" (the same seeds, hence the same initial parameters and draws, for every objective);"
      " diverged runs are counted and left out of the means.",
      "high_quality is a percentage; mmd2 uses bandwidth"
      f" {config.mmd_bandwidth} on {config.mmd_samples} samples a side.",
  ]
  if config.generator.kind in gan.DENSITY_GENERATORS:
    lines += [
        f"nll (nats), forward_kl = KL(p_data || p_G), reverse_kl = KL(p_G || p_data) and jsd"
        f" are Monte Carlo estimates on {config.eval_samples} held-out data and generator"
        " samples per run (their per-run standard errors are in results.csv).",
        "",
        "## Headline",
        "",
        _table(result, groups, _HEADLINE),
        "",
        "## Every metric",
    ]
  lines += ["", _table(result, groups, names)]
  best = _best_settings(result, groups)
  if best:
    lines += [
        "", "## Each objective at its best learning rates", "",
        "Chosen by the lowest mean final selection_score (held-out NLL with a density, MMD^2"
        " otherwise), measured on an evaluation draw of its own, so that the metrics above do"
        " not choose themselves.", "",
        _table(result, best, names),
    ]
  if config.two_sample_tests:
    lines += ["", *_two_sample_section(config, result, groups)]
  lines += ["", *_gradient_share_section(shares, result.samples.shape[1])]
  steps_run = result.steps_done - result.resumed_from_step
  timing = (
      f"{len(result.seeds)} runs x {steps_run} steps in {result.train_seconds:.1f} s"
      f" ({len(result.seeds) * steps_run / max(result.train_seconds, 1e-9):.0f} run-steps/s)"
      f" after {result.compile_seconds:.1f} s of compilation, on {jax.device_count()}"
      f" {jax.devices()[0].platform} device(s)"
  )
  if result.resumed_from_step:
    timing += f", resumed from the checkpoint at step {result.resumed_from_step}"
  return "\n".join(lines + ["", timing + ".", ""])


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field the sweep reads (:func:`gan_theory.gan.validate`)."""
  gan.validate(config)


def compute(config: ml_collections.ConfigDict, workdir: Path) -> sweep.SweepResult:
  """Trains the sweep, resuming from the latest snapshot in ``workdir/checkpoints``."""
  finishing = "sampling the final generators and their gradients" + (
      ", and the two-sample tests" if config.two_sample_tests else "")
  with checkpoints.SweepCheckpoints(workdir / checkpoints.DIRECTORY) as checkpointer:
    return sweep.run_sweep(
        config, on_progress=functools.partial(log_progress, finishing=finishing),
        checkpointer=checkpointer, sample_gradients=True,
        two_sample_tests=config.two_sample_tests,
    )


def failure(config: ml_collections.ConfigDict, result: sweep.SweepResult) -> str | None:
  """The line that says every run diverged, if they all did; None otherwise."""
  del config
  if not result.all_diverged:
    return None
  return (f"every run diverged, the last at step {int(np.max(result.diverged_step)):,}:"
          f" training stopped at step {result.steps_done:,}")


def report(config: ml_collections.ConfigDict, result: sweep.SweepResult) -> dict[str, object]:
  """results.csv, two_sample.csv (with config.two_sample_tests), summary.md and the figures."""
  target = distributions.make_target(config.target, **config[config.target])
  data = np.asarray(jax.jit(target.sample, static_argnums=1)(jax.random.key(config.first_seed),
                                                               2000))
  groups = _groups(config, result)
  seeds = result.seeds[: config.num_seeds][:_PLOTTED_SEEDS]
  samples = {
      label: points[: len(seeds)] for label, points in _per_group(groups, result.samples).items()
  }
  names = gan.measured_metrics(config)
  curves = {
      name: {
          label: tuple(np.asarray(s) for s in metrics.mean_and_stderr(values))
          for label, values in _per_group(groups, getattr(result.metrics, name)).items()
      }
      for name in _summarized(names)
  }
  shares = _gradient_shares(result, groups)
  files = {"results.csv": _results_csv(result, names)}
  if config.two_sample_tests:
    files["two_sample.csv"] = _two_sample_csv(result)
  files["summary.md"] = _summary_md(config, result, groups, shares)
  diverged_steps = _per_group(groups, result.diverged_step)
  diverged = ", ".join(f"{label} {int(np.sum(steps >= 0))} of {len(steps)}"
                       for label, steps in diverged_steps.items() if np.any(steps >= 0))
  setup = (f"{config.target} target ({len(target.modes)} modes), {config.generator.kind}"
           f" generator, {config.num_seeds} seeds per objective; runs diverged:"
           f" {diverged or 'none'}")
  files["samples.png"] = plots.samples_figure(
      samples, seeds, data, np.asarray(target.modes),
      {label: steps[: len(seeds)] for label, steps in diverged_steps.items()},
      title=f"GAN sweep: the final generators' samples at step {result.steps_done:,}, seeds"
            f" {seeds[0]}..{seeds[-1]}\n{setup}",
  )
  files["curves.png"] = plots.curves_figure(
      result.steps, curves, plots.GAN_METRIC_PANELS, config.num_seeds,
      title=f"GAN sweep: metrics on {config.eval_samples:,} generator samples every"
            f" {config.eval_every:,} steps\n{setup} (a diverged run is left out of the means"
            " from then on)",
  )
  files["gradient_share.png"] = plots.gradient_share_figure(
      *(
          {label: tuple(np.asarray(s) for s in metrics.mean_and_stderr(values))
           for label, values in per_group.items()}
          for per_group in shares
      ),
      num_seeds=config.num_seeds,
      title=f"GAN sweep: where the final generators' gradient comes from, at step"
            f" {result.steps_done:,}\n{setup}",
  )
  return files
