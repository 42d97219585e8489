"""Matplotlib figures of sweep results. Figures are built without pyplot, so no GUI backend."""

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "cost_curves_figure",
    "curves_figure",
    "errors_figure",
    "gradient_share_figure",
    "samples_figure",
]


def samples_figure(
    samples: Mapping[str, np.ndarray],
    seeds: Sequence[int],
    data: np.ndarray,
    modes: np.ndarray,
) -> Figure:
  """Generator samples over the data: a row per objective, a column per seed.

  Args:
    samples: objective -> ``[seeds, n, 2]`` generator samples.
    seeds: the seed of each column.
    data: ``[m, 2]`` data samples, drawn in grey behind.
    modes: ``[K, 2]`` the target's modes, drawn as crosses.
  """
  rows, cols = len(samples), len(seeds)
  figure = Figure(figsize=(2.6 * cols, 2.6 * rows), layout="constrained")
  axes = figure.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
  span = np.abs(modes).max() * 1.6 + 0.5
  for row, (objective, points) in enumerate(samples.items()):
    for col, seed in enumerate(seeds):
      ax = axes[row, col]
      ax.scatter(data[:, 0], data[:, 1], s=2, c="0.75", linewidths=0)
      ax.scatter(points[col, :, 0], points[col, :, 1], s=2, c=f"C{row}", linewidths=0, alpha=0.6)
      ax.scatter(modes[:, 0], modes[:, 1], s=20, c="k", marker="x", linewidths=0.8)
      ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal", xticks=[], yticks=[])
      if row == 0:
        ax.set_title(f"seed {seed}", fontsize=9)
      if col == 0:
        ax.set_ylabel(objective, fontsize=9)
  return figure


def curves_figure(
    steps: np.ndarray,
    curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
    num_seeds: int,
    symlog: Sequence[str] = (),
) -> Figure:
  """Each metric against step: a line per objective, a band of one standard error.

  Args:
    steps: ``[evals]`` the step of each evaluation.
    curves: metric -> objective -> (mean ``[evals]``, standard error ``[evals]``).
    num_seeds: seeds behind each mean, for the title.
    symlog: metrics that span orders of magnitude, drawn on a symmetric log scale
      (linear within ±1).
  """
  metrics = list(curves)
  cols = min(4, len(metrics))
  rows = -(-len(metrics) // cols)
  figure = Figure(figsize=(3.6 * cols, 2.8 * rows), layout="constrained")
  axes = figure.subplots(rows, cols, squeeze=False).ravel()
  for ax, metric in zip(axes, metrics):
    for index, (objective, (mean, stderr)) in enumerate(curves[metric].items()):
      ax.plot(steps, mean, color=f"C{index}", label=objective)
      ax.fill_between(steps, mean - stderr, mean + stderr, color=f"C{index}", alpha=0.2, lw=0)
    ax.set_title(metric, fontsize=10)
    if metric in symlog:
      ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=8)
  for ax in axes[len(metrics):]:
    ax.set_visible(False)
  axes[0].legend(fontsize=8)
  figure.suptitle(f"mean ± standard error over {num_seeds} seeds", fontsize=10)
  return figure


def errors_figure(
    names: Sequence[str],
    sizes: np.ndarray,
    rms_errors: Mapping[str, tuple[np.ndarray, ...]],
    stderrs: Mapping[str, tuple[np.ndarray, ...]],
) -> Figure:
  """Error of each gradient estimator against the sample size, log-log.

  A row per identity, a column per parameter; solid: the RMS error over seeds, dashed:
  the standard error the estimator reports, dotted: ``1 / sqrt(n)`` through the first
  point, for the slope.

  Args:
    names: the identities (generator objectives), in the order of the arrays' last axis.
    sizes: ``[sizes]`` the sample sizes.
    rms_errors: estimator -> a named tuple of ``[sizes, identities]`` arrays, a field a
      parameter.
    stderrs: estimator -> the same, of the reported standard errors.
  """
  parameters = next(iter(rms_errors.values()))._fields
  figure = Figure(figsize=(4.2 * len(parameters), 3.0 * len(names)), layout="constrained")
  axes = figure.subplots(len(names), len(parameters), squeeze=False, sharex=True)
  for row, name in enumerate(names):
    for col, parameter in enumerate(parameters):
      ax = axes[row, col]
      for color, (estimator, errors) in enumerate(rms_errors.items()):
        error = getattr(errors, parameter)[:, row]
        ax.loglog(sizes, error, "o-", c=f"C{color}", label=f"{estimator}: RMS error")
        ax.loglog(sizes, getattr(stderrs[estimator], parameter)[:, row], "--", c=f"C{color}",
                  label=f"{estimator}: standard error")
      first = max(getattr(errors, parameter)[0, row] for errors in rms_errors.values())
      ax.loglog(sizes, first * np.sqrt(sizes[0] / sizes), ":", c="0.4", label="1/sqrt(n)")
      ax.set_title(f"{name}, d/d {parameter}", fontsize=9)
      if row == len(names) - 1:
        ax.set_xlabel("samples n")
  axes[0, 0].legend(fontsize=7)
  return figure


def cost_curves_figure(
    names: Sequence[str], discriminator_outputs: np.ndarray, costs: np.ndarray,
    derivatives: np.ndarray,
) -> Figure:
  """The generator costs and the size of their derivatives in the logit, against D(G(z)).

  Args:
    names: the objectives, in the order of the arrays' first axis.
    discriminator_outputs: ``[n]`` values of D.
    costs: ``[objectives, n]`` each cost of one sample.
    derivatives: ``[objectives, n]`` its derivative in the logit.
  """
  figure = Figure(figsize=(9.0, 3.4), layout="constrained")
  cost_axes, slope_axes = figure.subplots(1, 2)
  for row, name in enumerate(names):
    cost_axes.plot(discriminator_outputs, costs[row], c=f"C{row}", label=name)
    slope_axes.semilogy(discriminator_outputs, np.abs(derivatives[row]), c=f"C{row}", label=name)
  cost_axes.set(xlabel="D(G(z))", ylabel="generator cost", ylim=(-10, 5))
  slope_axes.set(xlabel="D(G(z))", ylabel="|d cost / d logit|")
  cost_axes.legend(fontsize=8)
  return figure


def gradient_share_figure(
    shares: Mapping[str, tuple[np.ndarray, np.ndarray]],
    concentration: Mapping[str, tuple[np.ndarray, np.ndarray]],
    num_seeds: int,
) -> Figure:
  """Which generator samples the gradient comes from, for each objective.

  Args:
    shares: objective -> (mean, standard error) ``[bins]`` of the share of the gradient
      from samples with ``D(G(z))`` in each equal bin of ``[0, 1]``.
    concentration: objective -> (mean, standard error) ``[n]`` of the share held by the
      ``k`` samples with the largest gradients, ``k = 1..n``.
    num_seeds: seeds behind each mean, for the title.
  """
  figure = Figure(figsize=(10.0, 3.6), layout="constrained")
  share_axes, concentration_axes = figure.subplots(1, 2)
  num_objectives = len(shares)
  for index, (objective, (mean, stderr)) in enumerate(shares.items()):
    num_bins = len(mean)
    width = 1.0 / num_bins / (num_objectives + 1)
    left = np.arange(num_bins) / num_bins + (index + 0.5) * width
    share_axes.bar(left, mean, width, yerr=stderr, color=f"C{index}", label=objective,
                   align="edge", error_kw=dict(lw=0.8))
  share_axes.set(xlabel="D(G(z))", ylabel="share of the gradient", xlim=(0, 1))
  share_axes.legend(fontsize=8)
  for index, (objective, (mean, stderr)) in enumerate(concentration.items()):
    fraction = np.arange(1, len(mean) + 1) / len(mean)
    concentration_axes.plot(fraction, mean, color=f"C{index}", label=objective)
    concentration_axes.fill_between(fraction, mean - stderr, mean + stderr, color=f"C{index}",
                                    alpha=0.2, lw=0)
  equal = np.logspace(-3, 0, 50)
  concentration_axes.plot(equal, equal, ":", c="0.4", label="equal samples")
  concentration_axes.set(xscale="log", xlabel="fraction of samples, largest gradients first",
                         ylabel="share of the gradient", ylim=(0, 1.02))
  concentration_axes.legend(fontsize=8)
  figure.suptitle(
      f"the final generators' per-sample gradient norms; mean ± standard error over {num_seeds}"
      " seeds", fontsize=10,
  )
  return figure
