"""Matplotlib figures of sweep results. Figures are built without pyplot, so no GUI backend."""

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["curves_figure", "samples_figure"]


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
) -> Figure:
  """Each metric against step: a line per objective, a band of one standard error.

  Args:
    steps: ``[evals]`` the step of each evaluation.
    curves: metric -> objective -> (mean ``[evals]``, standard error ``[evals]``).
    num_seeds: seeds behind each mean, for the title.
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
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=8)
  for ax in axes[len(metrics):]:
    ax.set_visible(False)
  axes[0].legend(fontsize=8)
  figure.suptitle(f"mean ± standard error over {num_seeds} seeds", fontsize=10)
  return figure
