"""The theory experiment: the value identity and each generator cost's gradient identity,
estimated pathwise and by the score function, against the exact side, as n grows.

Writes to the workdir: config.json, identities.csv (a row per identity, estimator, sample
size, parameter and seed), summary.md (the value identity, the estimates at the largest
sample size, each estimator's variance, and how fast the error falls), errors.png and
cost_curves.png (each cost and its derivative in the logit against D(G(z))), and, for
discriminators trained alone against the generator, discriminators.csv and .png (their
distance to D* against steps) and checkpoints/<objective> (their final state, which a rerun
resumes from). :mod:`gan_theory.studies.theory` computes every number.
"""

import contextlib
from pathlib import Path

import ml_collections
import numpy as np
from absl import logging
from matplotlib.figure import Figure

from experiments import checkpoints, plots, workdir as workdir_lib
from gan_theory import objectives, theory
from gan_theory.studies import theory as study

OUTPUTS = (
    "config.json", checkpoints.DIRECTORY, "identities.csv", "discriminators.csv", "summary.md",
    "errors.png", "cost_curves.png", "discriminators.png",
)

validate = study.validate


def compute(config: ml_collections.ConfigDict, workdir: Path) -> study.Results:
  """Every check of ``config`` (:func:`gan_theory.studies.theory.compute`), each
  objective's trained discriminators snapshotted in ``workdir/checkpoints/<objective>``."""
  with contextlib.ExitStack() as stack:

    def checkpointer(objective: str) -> checkpoints.SweepCheckpoints:
      directory = workdir / checkpoints.DIRECTORY / objective
      return stack.enter_context(checkpoints.SweepCheckpoints(directory))

    return study.compute(config, on_progress=logging.info, checkpointer=checkpointer)


def failure(config: ml_collections.ConfigDict, results: study.Results) -> str | None:
  """The line naming each objective whose every trained discriminator diverged; None if none."""
  last = results.distances.under_data[:, :, -1]  # [objectives, seeds]
  diverged = [objective for objective, errors in zip(config.discriminator.objectives, last)
              if np.all(np.isnan(errors))]
  if not diverged:
    return None
  return f"every discriminator trained for {', '.join(diverged)} diverged"


def report(config: ml_collections.ConfigDict, results: study.Results) -> dict[str, str | Figure]:
  """identities.csv, discriminators.csv, summary.md and the three figures."""
  names = tuple(config.objectives)
  panels = {
      "under_data": plots.Panel("E_data |D - D*|", "mean |D - D*| (probability)"),
      "under_generator": plots.Panel("E_G |D - D*|", "mean |D - D*| (probability)"),
      # Each objective has its own maximum and scale: a panel each.
      "value_gap": plots.Panel("value gap", "nats below the objective's maximum", separate=True),
  }
  curves = {
      field: {
          objective: (getattr(results.distance_means, field)[o],
                      getattr(results.distance_stderrs, field)[o])
          for o, objective in enumerate(config.discriminator.objectives)
      }
      for field in panels
  }
  disc = config.discriminator
  problem = (f"p_data = equal mixture of N(m, {config.data_std:g}²), m in"
             f" {tuple(config.data_modes)}; generator N({config.generator_mean:g},"
             f" {config.generator_std:g}²)")
  summary = (_summary_md(config, names, results) + _discriminators_md(config, results)
             + _bounds_md(results.f_gan_bounds))
  return {
      "identities.csv": _identities_csv(names, results),
      "discriminators.csv": _discriminators_csv(config, results),
      "summary.md": summary,
      "errors.png": plots.errors_figure(
          names, results.num_samples, results.rms_errors._asdict(),
          results.reported_stderrs._asdict(),
          title=f"Theory: each gradient identity's estimators against the exact gradient, RMS"
                f" error over {config.num_seeds} seeds\n{problem}",
      ),
      "cost_curves.png": plots.cost_curves_figure(
          names, *results.cost_curves,
          title="Theory: the generator's costs of one sample as functions of D(G(z))",
      ),
      "discriminators.png": plots.curves_figure(
          results.discriminator_steps, curves, panels, disc.num_seeds,
          title=f"Theory: discriminators trained alone towards D*, against the fixed generator"
                f"\n{problem}; {tuple(disc.hidden_sizes)} {disc.activation} MLPs, Adam"
                f" {disc.learning_rate:g}, batches of {disc.batch_size}",
      ),
  }


def _identities_csv(names: tuple[str, ...], results: study.Results) -> str:
  checks = results.checks
  return workdir_lib.csv_text(
      ["identity", "estimator", "num_samples", "parameter", "seed", "exact", "estimate",
       "std_error"],
      (
          [name, estimator, int(n), parameter, int(seed),
           *(f"{getattr(field, parameter)[i, s, o]:.9g}"
             for field in (checks.exact, getattr(checks, estimator),
                           getattr(checks, f"{estimator}_stderr")))]
          for o, name in enumerate(names)
          for estimator in study.ESTIMATORS
          for i, n in enumerate(results.num_samples)
          for parameter in theory.Gaussian._fields
          for s, seed in enumerate(results.seeds)
      ),
  )


def _discriminators_csv(config: ml_collections.ConfigDict, results: study.Results) -> str:
  return workdir_lib.csv_text(
      ["objective", "seed", "step", *theory.DistanceToOptimum._fields],
      (
          [objective, int(seed), int(step),
           *(f"{field[o, s, e]:.9g}" for field in results.distances)]
          for o, objective in enumerate(config.discriminator.objectives)
          for s, seed in enumerate(results.discriminator_seeds)
          for e, step in enumerate(results.discriminator_steps)
      ),
  )


def _discriminators_md(config: ml_collections.ConfigDict, results: study.Results) -> str:
  disc = config.discriminator
  steps = results.discriminator_steps
  evaluations = sorted({0, 1, len(steps) // 2, len(steps) - 1})
  rows = [
      [objective, int(steps[e]),
       *(f"{float(mean[o, e]):.4f} ± {float(stderr[o, e]):.1g}"
         for mean, stderr in zip(results.distance_means, results.distance_stderrs))]
      for o, objective in enumerate(disc.objectives) for e in evaluations
  ]
  return "\n".join([
      "",
      "## Discriminators towards D*",
      "",
      f"{disc.num_seeds} discriminators ({tuple(disc.hidden_sizes)} {disc.activation} MLPs, Adam"
      f" {disc.learning_rate}, batches of {disc.batch_size}) per objective, trained alone"
      " against the generator at theta0 on the objective's discriminator loss, in one vmapped"
      " program; mean ± standard error over seeds of the distance to D* and of the gap between"
      " the maximum of the discriminator's objective (2 JSD - log 4 for the cross-entropy,"
      " D_f for an f-GAN bound) and its value, integrated by quadrature.",
      "",
      workdir_lib.markdown_table(
          ["objective", "step", "E_data abs(D - D*)", "E_G abs(D - D*)", "gap to the maximum"],
          rows, align="lrrrr",
      ),
      "",
  ])


def _table(names, header, cells, align) -> str:
  """A markdown table: per identity and parameter, the two and ``cells(index, parameter)``."""
  rows = [
      [name, parameter, *cells(index, parameter)]
      for index, name in enumerate(names)
      for parameter in theory.Gaussian._fields
  ]
  return workdir_lib.markdown_table(["identity", "parameter", *header], rows, align)


def _summary_md(config: ml_collections.ConfigDict, names: tuple[str, ...],
                results: study.Results) -> str:
  sizes = results.num_samples
  largest = len(sizes) - 1
  last_seed = config.first_seed + config.num_seeds - 1

  def at_largest(values: theory.Gaussian, index: int, parameter: str):
    """The value of ``[sizes, ..., objectives]`` arrays at the largest size and an objective."""
    return getattr(values, parameter)[largest, ..., index]

  def estimates(index, parameter):
    # The exact side is the same for every seed.
    cells = [f"{at_largest(results.checks.exact, index, parameter)[0]:.5f}"]
    for estimator in study.ESTIMATORS:
      mean, stderr = (at_largest(getattr(values, estimator), index, parameter)
                      for values in results.over_seeds)
      cells.append(f"{float(mean):.5f} ± {float(stderr):.1g}")
    return cells

  def variances(index, parameter):
    pathwise, score = (at_largest(values, index, parameter) for values in results.variances)
    better = "pathwise" if score > pathwise else "score function"
    ratio = at_largest(results.variance_ratios, index, parameter)
    return [f"{pathwise:.4g}", f"{score:.4g}", f"{ratio:.2f}", better]

  def exponents(index, parameter):
    return [f"{getattr(values, parameter)[index]:.3f}" for values in results.error_exponents]

  identity = results.value_identity
  lines = [
      "# The GAN game's identities on a 1-D problem",
      "",
      f"p_data: equal mixture of N(m, {config.data_std}^2) for m in {list(config.data_modes)};"
      f" generator x = {config.generator_mean} + {config.generator_std} z, z ~ N(0, 1)."
      f" Exact sides by the trapezoid rule on [{config.quadrature.low}, {config.quadrature.high}]"
      f" with {config.quadrature.num_points} points.",
      "",
      "## Value identity",
      "",
      f"V(D*, G) = {identity.value:.7f}; 2 JSD(p_data, p_G) - log 4 ="
      f" {identity.divergence_side:.7f}; difference {identity.difference:.2g}.",
      "",
      f"## Gradient identities at n = {sizes[largest]:,}",
      "",
      f"Mean ± standard error over seeds {config.first_seed}..{last_seed} of each estimate; the"
      " exact side is the gradient of the divergence by quadrature.",
      "",
      _table(names, ["exact", "pathwise", "score function"], estimates, "llrrr"),
      "",
      "## Variance of each estimator",
      "",
      f"Per-sample variance (n x standard error^2 at n = {sizes[largest]:,}, averaged over seeds):"
      " the lower one needs fewer samples for the same error, by their ratio.",
      "",
      _table(names, ["pathwise", "score function", "score function / pathwise", "better"],
             variances, "llrrrl"),
      "",
      "## How fast the error falls",
      "",
      "Exponent b of a least-squares fit RMS error ~ c n^b over the sample sizes, the RMS taken"
      " over seeds; Monte Carlo predicts b = -0.5.",
      "",
      _table(names, ["pathwise", "score function"], exponents, "llrr"),
  ]
  return "\n".join(lines + [""])


def _bounds_md(bounds: study.FGanBounds) -> str:
  lines = [
      "",
      "## f-GAN variational bounds",
      "",
      "D_f(p_data || p_G) from its closed form by quadrature, against the bound"
      " F(a) = E_data[T(a)] - E_G[f*(T(a))] that an f-GAN discriminator with logit a"
      " maximizes (Nowozin et al. 2016): at the optimal logit a* = log p_data - log p_G,"
      " at a* / 2 and at a* + 1/2. Jensen-Shannon's f gives D_f = 2 JSD. Each game clips"
      " its logit (softly, beyond |a| = 20; 10 for Pearson) so that no exponential"
      " overflows; where a* lies beyond, F(a*) falls short of D_f.",
      "",
      workdir_lib.markdown_table(
          ["divergence", "D_f", "F(a*)", "F(a* / 2)", "F(a* + 1/2)"],
          ([name, *(f"{float(values[d]):.6f}" for values in bounds)]
           for d, name in enumerate(objectives.F_DIVERGENCES)),
      ),
      "",
  ]
  return "\n".join(lines)
