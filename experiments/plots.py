"""Matplotlib figures of sweep results. Figures are built without pyplot, so no GUI backend."""

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "bounds_figure",
    "cost_curves_figure",
    "curves_figure",
    "errors_figure",
    "estimator_variance_figure",
    "gradient_share_figure",
    "image_grid_figure",
    "likelihood_vs_samples_figure",
    "power_figure",
    "samples_figure",
    "snr_figure",
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


def bounds_figure(
    ks: Sequence[int], bounds: Mapping[int, tuple[float, float]], log_p_x: float
) -> Figure:
  """The IWAE bounds against k: their values under log p(x), and their gap to it, log-log.

  Args:
    ks: the numbers of importance samples.
    bounds: k -> (mean, standard error) of the bound.
    log_p_x: the exact log-likelihood.
  """
  means = np.array([bounds[k][0] for k in ks])
  stderrs = np.array([bounds[k][1] for k in ks])
  figure = Figure(figsize=(9.0, 3.4), layout="constrained")
  value_axes, gap_axes = figure.subplots(1, 2)
  value_axes.errorbar(ks, means, yerr=stderrs, fmt="o-", ms=3, label="L_k")
  value_axes.axhline(log_p_x, c="k", ls="--", lw=1, label="log p(x)")
  value_axes.set(xscale="log", xlabel="importance samples k", ylabel="nats")
  value_axes.legend(fontsize=8)
  gaps = log_p_x - means
  positive = gaps > 0
  gap_axes.errorbar(np.asarray(ks)[positive], gaps[positive], yerr=stderrs[positive], fmt="o-",
                    ms=3, label="log p(x) - L_k")
  gap_axes.loglog(ks, gaps[0] / np.asarray(ks, float), ":", c="0.4", label="1/k")
  gap_axes.set(xscale="log", yscale="log", xlabel="importance samples k", ylabel="nats")
  gap_axes.legend(fontsize=8)
  return figure


def snr_figure(
    ks: Sequence[int], snr: Mapping[tuple[str, str], np.ndarray], floor: float
) -> Figure:
  """Gradient signal-to-noise ratios against k, log-log, a panel per model part.

  Args:
    ks: the numbers of importance samples.
    snr: (part, parameter) -> ``[len(ks)]`` mean signal-to-noise ratio of its entries.
    floor: what a gradient with mean 0 measures, drawn as a grey band's top.
  """
  parts = sorted({part for part, _ in snr})
  figure = Figure(figsize=(4.5 * len(parts), 3.4), layout="constrained")
  axes = figure.subplots(1, len(parts), squeeze=False)[0]
  k = np.asarray(ks, float)
  for ax, part in zip(axes, parts):
    for index, name in enumerate(name for of_part, name in snr if of_part == part):
      ax.loglog(k, snr[part, name], "o-", ms=3, c=f"C{index}", label=name)
    first = np.mean([v[0] for (p, _), v in snr.items() if p == part])
    sign = 1 if part == "decoder" else -1
    ax.loglog(k, first * (k / k[0]) ** (sign / 2), ":", c="0.4",
              label=f"k^{'+' if sign > 0 else '-'}1/2")
    ax.axhspan(floor / 10, floor, color="0.85", lw=0, label="noise floor")
    ax.set(title=part, xlabel="importance samples k", ylabel="|E g| / std(g)")
    ax.legend(fontsize=8)
  return figure


def estimator_variance_figure(
    dims: Sequence[int], variances: Mapping[tuple[str, str, str], np.ndarray]
) -> Figure:
  """Per-sample variance of each gradient estimator against dimension, log-log.

  A panel per covariance, a colour per estimator, solid for the mean, dashed for the
  scale parameter.

  Args:
    dims: the dimensions.
    variances: (covariance, estimator, parameter) -> ``[len(dims)]`` per-entry variances.
  """
  covariances = list(dict.fromkeys(c for c, _, _ in variances))
  estimators = list(dict.fromkeys(e for _, e, _ in variances))
  figure = Figure(figsize=(4.5 * len(covariances), 3.4), layout="constrained")
  axes = figure.subplots(1, len(covariances), squeeze=False, sharey=True)[0]
  for ax, covariance in zip(axes, covariances):
    for (of_covariance, estimator, name), values in variances.items():
      if of_covariance == covariance:
        ax.loglog(dims, values, "o-" if name == "mean" else "s--", ms=3,
                  c=f"C{estimators.index(estimator)}", label=f"{estimator}: {name}")
    ax.set(title=f"{covariance} covariance", xlabel="dimension d",
           ylabel="per-sample variance per entry")
    ax.legend(fontsize=8)
  return figure


def image_grid_figure(
    blocks: Mapping[str, np.ndarray], side: int, columns: int, stacked: bool
) -> Figure:
  """Blocks of grey images, each block a mosaic with its title.

  Args:
    blocks: title -> ``[n, side * side]`` pixel values in ``[0, 1]``.
    side: the images' side in pixels.
    columns: images per row of a mosaic.
    stacked: blocks one above the other (True) or side by side (False).
  """
  def mosaic(images: np.ndarray) -> np.ndarray:
    rows = -(-len(images) // columns)
    padded = np.zeros((rows * columns, side, side))  # Blank where a row is not full.
    padded[: len(images)] = np.asarray(images).reshape(-1, side, side)
    tiles = np.pad(padded, ((0, 0), (1, 1), (1, 1)), constant_values=0.3)  # Grey lines.
    tiles = tiles.reshape(rows, columns, side + 2, side + 2)
    return tiles.transpose(0, 2, 1, 3).reshape(rows * (side + 2), columns * (side + 2))

  mosaics = {title: mosaic(images) for title, images in blocks.items()}
  height, width = next(iter(mosaics.values())).shape
  scale = 0.09
  count = len(mosaics)
  size = (width * scale, (height * scale + 0.4) * count) if stacked else (
      (width * scale + 0.2) * count, height * scale + 0.4)
  figure = Figure(figsize=size, layout="constrained")
  axes = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(
      1, count, squeeze=False)[0]
  for ax, (title, image) in zip(axes, mosaics.items()):
    ax.imshow(1.0 - image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")  # Ink dark.
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
  return figure


def likelihood_vs_samples_figure(
    dims: Sequence[int], curves: Mapping[tuple[str, str], np.ndarray], log_weight: float
) -> Figure:
  """Held-out log-likelihood and sample quality against dimension, a curve per model.

  Args:
    dims: the dimensions.
    curves: (quantity, model) -> ``[len(dims), 2]`` mean and standard error, for the
      quantities log_likelihood_per_dim, classifier_accuracy, precision, recall and
      mmd_p_value.
    log_weight: log of the noisy model's weight on p: its bound is log p + log_weight.
  """
  models = list(dict.fromkeys(model for _, model in curves))
  figure = Figure(figsize=(13.0, 3.4), layout="constrained")
  likelihood_axes, accuracy_axes, quality_axes, p_axes = figure.subplots(1, 4)
  d = np.asarray(dims, float)
  for index, model in enumerate(models):
    style = dict(c=f"C{index}", ms=3, capsize=2)
    mean, se = curves["log_likelihood_per_dim", model].T
    likelihood_axes.errorbar(d, mean, yerr=se, fmt="o-", label=model, **style)
    if model == models[0]:
      likelihood_axes.plot(d, mean + log_weight / d, ":", c="0.4",
                           label=f"bound: ({models[0]} + log w) / d")
    mean, se = curves["classifier_accuracy", model].T
    accuracy_axes.errorbar(d, mean, yerr=se, fmt="o-", label=model, **style)
    for quantity, marker in (("precision", "o-"), ("recall", "s--")):
      mean, se = curves[quantity, model].T
      quality_axes.errorbar(d, mean, yerr=se, fmt=marker, label=f"{model} {quantity}", **style)
    mean, se = curves["mmd_p_value", model].T
    p_axes.errorbar(d, mean, yerr=se, fmt="o-", label=model, **style)
  likelihood_axes.set(xscale="log", xlabel="dimension d", ylabel="nats per dimension",
                      title="held-out log-likelihood / d")
  likelihood_axes.set_yscale("symlog", linthresh=1.0)
  accuracy_axes.axhline(0.5, c="k", lw=0.8, ls=":")
  accuracy_axes.set(xscale="log", xlabel="dimension d", ylabel="held-out accuracy",
                    title="classifier two-sample test", ylim=(0.4, 1.02))
  quality_axes.set(xscale="log", xlabel="dimension d", title="precision (o) and recall (s)",
                   ylim=(-0.02, 1.02))
  p_axes.axhline(0.05, c="k", lw=0.8, ls=":")
  p_axes.set(xscale="log", yscale="log", xlabel="dimension d", ylabel="p-value",
             title="MMD permutation test")
  for ax in (likelihood_axes, accuracy_axes, p_axes):
    ax.legend(fontsize=7)
  quality_axes.legend(fontsize=6, ncol=2)
  return figure


def power_figure(
    sample_sizes: Sequence[int],
    rejections: Mapping[tuple[int, str, str], float],
    alpha: float,
    interval: Sequence[float],
) -> Figure:
  """Each test's rejection rate against sample size, under the null and under a shift.

  Args:
    sample_sizes: points per side.
    rejections: (sample size, hypothesis "null" or "shift", test) -> rejection rate.
    alpha: the level.
    interval: the band that a size-alpha test's null rejection rate falls in with chance 95%.
  """
  tests = list(dict.fromkeys(test for _, _, test in rejections))
  figure = Figure(figsize=(5.0, 3.4), layout="constrained")
  ax = figure.subplots()
  n = np.asarray(sample_sizes, float)
  ax.axhspan(*interval, color="0.85", lw=0, label=f"95% band of a size-{alpha:g} test")
  for index, test in enumerate(tests):
    power = [rejections[size, "shift", test] for size in sample_sizes]
    null = [rejections[size, "null", test] for size in sample_sizes]
    ax.plot(n, power, "o-", c=f"C{index}", ms=3, label=f"{test}: power")
    ax.plot(n, null, "x:", c=f"C{index}", label=f"{test}: type-I error")
  ax.set(xscale="log", xlabel="points per side n", ylabel="rejection rate", ylim=(-0.02, 1.02))
  ax.set_xticks(n, [str(size) for size in sample_sizes])
  ax.minorticks_off()
  ax.legend(fontsize=7)
  return figure
