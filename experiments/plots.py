"""Matplotlib figures of sweep results. Figures are built without pyplot, so no GUI backend.

Each figure reads alone: its title names the experiment and what it shows (the caller
passes it, with the step and the config's essentials), every axis has a label and its unit,
and a legend keys every mark.
"""

import textwrap
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

__all__ = [
    "GAN_METRIC_PANELS",
    "Panel",
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


def _title(figure: Figure, title: str, fontsize: float = 10) -> None:
  """Sets ``title`` above ``figure``, each line wrapped to the figure's width (the PNG
  is cut at its edges, so a long line would lose its ends)."""
  width = max(int(figure.get_figwidth() * 72 / (0.55 * fontsize)), 20)  # Characters.
  lines = (textwrap.fill(line, width) for line in title.split("\n"))
  figure.suptitle("\n".join(lines), fontsize=fontsize)


def _integer_ticks(ax, values: Sequence[int]) -> None:
  """Ticks at ``values`` on a log x axis, written as integers (not 2 x 10^0)."""
  ax.set_xticks(np.asarray(values, float), [str(v) for v in values], fontsize=8)
  ax.xaxis.set_minor_locator(NullLocator())


def _symlog(ax) -> None:
  """A symmetric log y scale, linear within ±1, with evenly chosen ticks when the curves
  span too little for two powers of 10 (there would be none to read)."""
  ax.set_yscale("symlog", linthresh=1.0)
  low, high = ax.get_ylim()
  if sum(low <= tick <= high for tick in ax.get_yticks()) < 2:
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def _no_values(ax) -> None:
  """Says on ``ax`` why it stands empty: NaN is what a diverged run measures."""
  ax.text(0.5, 0.5, "no finite values:\nevery run diverged", transform=ax.transAxes,
          ha="center", va="center", fontsize=9, color="C3", bbox=dict(fc="w", ec="C3"))


def _frame_count(points: np.ndarray, span: float) -> str:
  """How many of ``points`` ``[n, 2]`` fall outside ``[-span, span]^2``, and how many are
  not finite (a diverged generator's)."""
  finite = np.all(np.isfinite(points), axis=-1)
  outside = finite & np.any(np.abs(points) > span, axis=-1)
  text = f"{int(outside.sum()):,} of {len(points):,} off frame"
  if not finite.all():
    text += f"\n{int((~finite).sum()):,} not finite"
  return text


def samples_figure(
    samples: Mapping[str, np.ndarray],
    seeds: Sequence[int],
    data: np.ndarray,
    modes: np.ndarray,
    diverged_steps: Mapping[str, np.ndarray] | None = None,
    *,
    title: str,
) -> Figure:
  """Generator samples over the data: a row per objective, a column per seed.

  Each panel counts its samples off the frame; a diverged run's panel says so, at which
  step, instead of standing blank.

  Args:
    samples: objective -> ``[seeds, n, 2]`` generator samples.
    seeds: the seed of each column.
    data: ``[m, 2]`` data samples, drawn in grey behind.
    modes: ``[K, 2]`` the target's modes, drawn as crosses.
    diverged_steps: objective -> ``[seeds]`` the step at which each run diverged, -1 if it
      did not. Without it, a run with no finite sample is marked diverged, step unknown.
    title: the figure's title: the experiment, the step and the config's essentials.
  """
  rows, cols = len(samples), len(seeds)
  figure = Figure(figsize=(2.6 * cols + 0.4, 2.6 * rows + 1.2), layout="constrained")
  axes = figure.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
  span = np.abs(modes).max() * 1.6 + 0.5
  for row, (objective, points) in enumerate(samples.items()):
    for col, seed in enumerate(seeds):
      ax = axes[row, col]
      ax.scatter(data[:, 0], data[:, 1], s=2, c="0.75", linewidths=0)
      ax.scatter(points[col, :, 0], points[col, :, 1], s=2, c=f"C{row}", linewidths=0, alpha=0.6)
      ax.scatter(modes[:, 0], modes[:, 1], s=20, c="k", marker="x", linewidths=0.8)
      ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal")
      ax.set_title(f"{objective}, seed {seed}", fontsize=9)
      ax.text(0.03, 0.03, _frame_count(points[col], span), transform=ax.transAxes, fontsize=7,
              va="bottom", bbox=dict(fc="w", ec="none", alpha=0.7, pad=1))
      step = -1 if diverged_steps is None else int(diverged_steps[objective][col])
      if step >= 0 or not np.isfinite(points[col]).any():
        ax.text(0.5, 0.5, "diverged" + (f" at step {step:,}" if step >= 0 else ""),
                transform=ax.transAxes, ha="center", va="center", fontsize=10, color="C3",
                bbox=dict(fc="w", ec="C3"))
      ax.tick_params(labelsize=7)
      ax.label_outer()
  for ax in axes[-1]:
    ax.set_xlabel("x₁ (data coordinates)", fontsize=8)
  for ax in axes[:, 0]:
    ax.set_ylabel("x₂ (data coordinates)", fontsize=8)
  dot = dict(ls="", marker="o", ms=4, mec="none")
  key = [
      Line2D([], [], mfc="0.75", label=f"data ({len(data):,} target samples)", **dot),
      *(Line2D([], [], mfc=f"C{row}", label=f"{objective}'s samples", **dot)
        for row, objective in enumerate(samples)),
      Line2D([], [], ls="", marker="x", c="k", label=f"the target's {len(modes)} modes"),
  ]
  figure.legend(handles=key, loc="outside lower center", fontsize=8, frameon=False,
                ncol=min(len(key), max(int(figure.get_figwidth() / 2.0), 1)))
  _title(figure, title)
  return figure


class Panel(NamedTuple):
  """How :func:`curves_figure` draws one quantity.

  Attributes:
    title: the quantity, in words.
    ylabel: the y axis' label, with the unit.
    scale: the y axis' scale: "linear", "log", or "symlog" (linear within ±1) for a
      quantity that spans orders of magnitude.
    separate: a panel per line, when the lines are different quantities on their own
      scales (each objective's own cost).
  """

  title: str
  ylabel: str
  scale: str = "linear"
  separate: bool = False


# What a y label adds for each scale of a Panel.
_SCALE_NOTES = {"linear": "", "log": " (log scale)", "symlog": " (symmetric log scale)"}

# The GAN sweep's metrics (:class:`gan_theory.gan.EvalMetrics`).
GAN_METRIC_PANELS = {
    "modes": Panel("modes captured", "modes (count)"),
    "high_quality": Panel("high-quality samples (%)", "% of samples within 3 std of a mode"),
    "mode_kl": Panel("mode histogram's KL from uniform", "nats"),
    "mmd2": Panel("MMD² to the data", "MMD² (squared kernel distance)"),
    "discriminator_accuracy": Panel("discriminator accuracy", "fraction classified right"),
    "discriminator_loss": Panel("discriminator cross-entropy", "nats"),
    # Each objective's cost is a different function of D: a panel each.
    "generator_loss": Panel("generator cost", "the objective's own cost", separate=True),
    "generator_grad_norm": Panel("generator gradient norm", "L2 norm", "log"),
    "weight_ess": Panel("effective sample size of exp(a) per batch",
                        "fraction of the batch", "log"),
    "generator_grad_variance": Panel("variance of a batch's generator gradient",
                                     "trace of the covariance", "log"),
    "selection_score": Panel("selection score, on a draw of its own",
                             "held-out NLL (nats) or MMD²", "symlog"),
    "discriminator_gap": Panel("discriminator's distance to D*",
                               "cross-entropy minus D*'s (nats)", "symlog"),
    "nll": Panel("held-out negative log-likelihood", "nats per point", "symlog"),
    "forward_kl": Panel("KL(p_data ‖ p_G)", "nats", "symlog"),
    "reverse_kl": Panel("KL(p_G ‖ p_data)", "nats", "symlog"),
    "jsd": Panel("Jensen-Shannon divergence", "nats"),
}


def curves_figure(
    steps: np.ndarray,
    curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
    panels: Mapping[str, Panel],
    num_seeds: int,
    *,
    title: str,
    xlabel: str = "training step",
) -> Figure:
  """Each quantity against step: a line per run group, a band of one standard error.

  Args:
    steps: ``[evals]`` the step of each evaluation.
    curves: quantity -> line (an objective, a k) -> (mean ``[evals]``, standard error
      ``[evals]``).
    panels: quantity -> its :class:`Panel`, for every quantity of ``curves``.
    num_seeds: seeds behind each mean, for the title.
    title: the first line of the figure's title: the experiment and its config.
    xlabel: the x axis' label.
  """
  boxes = []  # (title, panel, lines) of each panel drawn.
  for quantity, lines in curves.items():
    panel = panels[quantity]
    if panel.separate:
      boxes += [(f"{panel.title}: {line}", panel, {line: lines[line]}) for line in lines]
    else:
      boxes.append((panel.title, panel, lines))
  colors = {line: f"C{i}" for i, line in
            enumerate(dict.fromkeys(line for lines in curves.values() for line in lines))}
  cols = min(4, len(boxes))
  rows = -(-len(boxes) // cols)
  figure = Figure(figsize=(3.6 * cols, 2.8 * rows + 1.0), layout="constrained")
  axes = figure.subplots(rows, cols, squeeze=False).ravel()
  for ax, (box_title, panel, lines) in zip(axes, boxes):
    for line, (mean, stderr) in lines.items():
      # Markers show a point that has no finite neighbour to draw a line to.
      ax.plot(steps, mean, ".-", ms=4, color=colors[line], label=line)
      ax.fill_between(steps, mean - stderr, mean + stderr, color=colors[line], alpha=0.2, lw=0)
    if not any(np.isfinite(mean).any() for mean, _ in lines.values()):
      _no_values(ax)
    pad = 0.03 * (steps[-1] - steps[0])  # The whole run, even where every line has ended.
    ax.set_xlim(steps[0] - pad, steps[-1] + pad)
    ax.set_title(box_title, fontsize=10)
    if panel.scale == "symlog":
      _symlog(ax)
    else:
      ax.set_yscale(panel.scale)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(panel.ylabel + _SCALE_NOTES[panel.scale], fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.tick_params(which="both", labelsize=8)
  for ax in axes[len(boxes):]:
    ax.set_visible(False)
  key = [Line2D([], [], color=color, label=line) for line, color in colors.items()]
  figure.legend(handles=key, loc="outside lower center", ncol=min(len(key), 6), fontsize=8,
                frameon=False)
  _title(figure, f"{title}\nmean ± standard error over {num_seeds} seeds (bands)")
  return figure


def errors_figure(
    names: Sequence[str],
    sizes: np.ndarray,
    rms_errors: Mapping[str, tuple[np.ndarray, ...]],
    stderrs: Mapping[str, tuple[np.ndarray, ...]],
    *,
    title: str,
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
    title: the figure's title: the experiment and its config.
  """
  parameters = next(iter(rms_errors.values()))._fields
  figure = Figure(figsize=(4.2 * len(parameters), 3.0 * len(names) + 0.8), layout="constrained")
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
      ax.set_title(f"{name} identity: gradient in {parameter}", fontsize=9)
      if row == len(names) - 1:
        ax.set_xlabel("sample size n")
      if col == 0:
        ax.set_ylabel("error (units of the gradient)", fontsize=9)
  axes[0, 0].legend(fontsize=7)
  _title(figure, title)
  return figure


def cost_curves_figure(
    names: Sequence[str], discriminator_outputs: np.ndarray, costs: np.ndarray,
    derivatives: np.ndarray, *, title: str,
) -> Figure:
  """The generator costs and the size of their derivatives in the logit, against D(G(z)).

  Args:
    names: the objectives, in the order of the arrays' first axis.
    discriminator_outputs: ``[n]`` values of D.
    costs: ``[objectives, n]`` each cost of one sample.
    derivatives: ``[objectives, n]`` its derivative in the logit.
    title: the figure's title: the experiment.
  """
  figure = Figure(figsize=(9.0, 3.8), layout="constrained")
  cost_axes, slope_axes = figure.subplots(1, 2)
  for row, name in enumerate(names):
    cost_axes.plot(discriminator_outputs, costs[row], c=f"C{row}", label=name)
    slope_axes.semilogy(discriminator_outputs, np.abs(derivatives[row]), c=f"C{row}", label=name)
  cost_axes.set(xlabel="D(G(z)), the discriminator's output", ylabel="cost of one sample",
                ylim=(-10, 5), title="each objective's cost (cut at -10 and 5)")
  slope_axes.set(xlabel="D(G(z)), the discriminator's output",
                 ylabel="|d cost / d logit| (log scale)", title="the size of its gradient")
  for ax in (cost_axes, slope_axes):
    ax.title.set_fontsize(10)
  cost_axes.legend(fontsize=8)
  _title(figure, title)
  return figure


def gradient_share_figure(
    shares: Mapping[str, tuple[np.ndarray, np.ndarray]],
    concentration: Mapping[str, tuple[np.ndarray, np.ndarray]],
    num_seeds: int,
    *,
    title: str,
) -> Figure:
  """Which generator samples the gradient comes from, for each objective.

  Args:
    shares: objective -> (mean, standard error) ``[bins]`` of the share of the gradient
      from samples with ``D(G(z))`` in each equal bin of ``[0, 1]``.
    concentration: objective -> (mean, standard error) ``[n]`` of the share held by the
      ``k`` samples with the largest gradients, ``k = 1..n``.
    num_seeds: seeds behind each mean, for the title.
    title: the first line of the figure's title: the experiment, the step and the config.
  """
  figure = Figure(figsize=(10.0, 4.0), layout="constrained")
  share_axes, concentration_axes = figure.subplots(1, 2)
  num_objectives = len(shares)
  for index, (objective, (mean, stderr)) in enumerate(shares.items()):
    num_bins = len(mean)
    width = 1.0 / num_bins / (num_objectives + 1)
    left = np.arange(num_bins) / num_bins + (index + 0.5) * width
    share_axes.bar(left, mean, width, yerr=stderr, color=f"C{index}", label=objective,
                   align="edge", error_kw=dict(lw=0.8))
  share_axes.set(xlabel="D(G(z)), the discriminator's output (bins)",
                 ylabel="share of the gradient (fraction)", xlim=(0, 1),
                 title="the gradient's share by D(G(z))")
  share_axes.legend(fontsize=8)
  for index, (objective, (mean, stderr)) in enumerate(concentration.items()):
    fraction = np.arange(1, len(mean) + 1) / len(mean)
    concentration_axes.plot(fraction, mean, color=f"C{index}", label=objective)
    concentration_axes.fill_between(fraction, mean - stderr, mean + stderr, color=f"C{index}",
                                    alpha=0.2, lw=0)
  equal = np.logspace(-3, 0, 50)
  concentration_axes.plot(equal, equal, ":", c="0.4", label="equal samples")
  concentration_axes.set(xscale="log", xlabel="fraction of samples, largest gradients first",
                         ylabel="share of the gradient (fraction)", ylim=(0, 1.02),
                         title="the share held by the samples with the largest gradients")
  concentration_axes.legend(fontsize=8)
  for ax in (share_axes, concentration_axes):
    ax.title.set_fontsize(10)
  if not any(np.isfinite(mean).any() for mean, _ in shares.values()):
    _no_values(share_axes)
  num_samples = max((len(mean) for mean, _ in concentration.values()), default=0)
  _title(figure, f"{title}\nper-sample gradient norms on {num_samples:,} samples per run; mean"
                 f" ± standard error over {num_seeds} seeds")
  return figure


def bounds_figure(
    ks: Sequence[int], bounds: Mapping[int, tuple[float, float]], log_p_x: float, *,
    title: str,
) -> Figure:
  """The IWAE bounds against k: their values under log p(x), and their gap to it, log-log.

  Args:
    ks: the numbers of importance samples.
    bounds: k -> (mean, standard error) of the bound.
    log_p_x: the exact log-likelihood.
    title: the figure's title: the experiment and its config.
  """
  means = np.array([bounds[k][0] for k in ks])
  stderrs = np.array([bounds[k][1] for k in ks])
  figure = Figure(figsize=(9.0, 4.0), layout="constrained")
  value_axes, gap_axes = figure.subplots(1, 2)
  value_axes.errorbar(ks, means, yerr=stderrs, fmt="o-", ms=3, label="L_k")
  value_axes.axhline(log_p_x, c="k", ls="--", lw=1, label="log p(x)")
  value_axes.set(xscale="log", xlabel="importance samples k", ylabel="nats per data point",
                 title="the bounds L_k under log p(x)")
  value_axes.legend(fontsize=8)
  gaps = log_p_x - means
  positive = gaps > 0
  gap_axes.errorbar(np.asarray(ks)[positive], gaps[positive], yerr=stderrs[positive], fmt="o-",
                    ms=3, label="log p(x) - L_k")
  gap_axes.loglog(ks, gaps[0] / np.asarray(ks, float), ":", c="0.4", label="1/k")
  gap_axes.set(xscale="log", yscale="log", xlabel="importance samples k",
               ylabel="nats per data point (log scale)", title="their gap to log p(x)")
  gap_axes.legend(fontsize=8)
  for ax in (value_axes, gap_axes):
    _integer_ticks(ax, ks)
    ax.title.set_fontsize(10)
  _title(figure, title)
  return figure


def snr_figure(
    ks: Sequence[int], snr: Mapping[tuple[str, str, str], np.ndarray], floor: float, *,
    title: str,
) -> Figure:
  """Gradient signal-to-noise ratios against k, log-log: the decoder's (the same for every
  encoder gradient estimator: the first one's), then a panel per estimator of the encoder's.

  Args:
    ks: the numbers of importance samples.
    snr: (encoder gradient, part, parameter) -> ``[len(ks)]`` mean signal-to-noise ratio of
      its entries.
    floor: what a gradient with mean 0 measures, drawn as a grey band's top.
    title: the figure's title: the experiment and its config.
  """
  estimators = list(dict.fromkeys(estimator for estimator, _, _ in snr))
  panels = [(estimators[0], "decoder"), *((estimator, "encoder") for estimator in estimators)]
  figure = Figure(figsize=(4.0 * len(panels) + 0.5, 4.0), layout="constrained")
  axes = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
  k = np.asarray(ks, float)
  for ax, (estimator, part) in zip(axes, panels):
    of_panel = {name: v for (e, p, name), v in snr.items() if (e, p) == (estimator, part)}
    for index, (name, values) in enumerate(of_panel.items()):
      ax.loglog(k, values, "o-", ms=3, c=f"C{index}", label=name)
    first = np.mean([v[0] for v in of_panel.values()])
    # The predictions: the decoder's and DReG's rise like sqrt(k), the reparameterized
    # encoder gradient's falls like 1/sqrt(k); STL's (biased) is drawn against the rise.
    sign = -1 if (part, estimator) == ("encoder", "reparameterized") else 1
    ax.loglog(k, first * (k / k[0]) ** (sign / 2), ":", c="0.4",
              label=f"k^{'+' if sign > 0 else '-'}1/2")
    ax.axhspan(floor / 10, floor, color="0.85", lw=0, label="noise floor")
    ax.set(title=(f"the {part}'s gradients" if part == "decoder"
                  else f"the encoder's gradients: {estimator}"),
           xlabel="importance samples k", ylabel="signal-to-noise |E g| / std(g) (ratio)")
    ax.title.set_fontsize(10)
    _integer_ticks(ax, ks)
    ax.legend(fontsize=8)
  _title(figure, title)
  return figure


def estimator_variance_figure(
    dims: Sequence[int], variances: Mapping[tuple[str, str, str], np.ndarray], *, title: str
) -> Figure:
  """Per-sample variance of each gradient estimator against dimension, log-log.

  A panel per covariance, a colour per estimator, solid for the mean, dashed for the
  scale parameter.

  Args:
    dims: the dimensions.
    variances: (covariance, estimator, parameter) -> ``[len(dims)]`` per-entry variances.
    title: the figure's title: the experiment and its config.
  """
  covariances = list(dict.fromkeys(c for c, _, _ in variances))
  estimators = list(dict.fromkeys(e for _, e, _ in variances))
  figure = Figure(figsize=(4.5 * len(covariances) + 0.5, 4.0), layout="constrained")
  axes = figure.subplots(1, len(covariances), squeeze=False, sharey=True)[0]
  for ax, covariance in zip(axes, covariances):
    for (of_covariance, estimator, name), values in variances.items():
      if of_covariance == covariance:
        ax.loglog(dims, values, "o-" if name == "mean" else "s--", ms=3,
                  c=f"C{estimators.index(estimator)}", label=f"{estimator}: {name}")
    ax.set(title=f"q with {covariance} covariance", xlabel="dimension d")
    ax.title.set_fontsize(10)
    _integer_ticks(ax, dims)
    ax.legend(fontsize=8)
  axes[0].set_ylabel("per-sample variance per entry (log scale)")  # The panels share it.
  _title(figure, title)
  return figure


def image_grid_figure(
    blocks: Mapping[str, np.ndarray], side: int, columns: int, stacked: bool, *, title: str,
    key: str,
) -> Figure:
  """Blocks of grey images, each block a mosaic with its title; a block with pixels that
  are not finite (a diverged model's) says so.

  Args:
    blocks: title -> ``[n, side * side]`` pixel values in ``[0, 1]``, drawn white to black.
    side: the images' side in pixels.
    columns: images per row of a mosaic, at most.
    stacked: blocks one above the other (True) or side by side (False).
    title: the figure's title: the experiment, the step and the config.
    key: the label of the grey scale's colour bar: what a pixel value means.
  """
  columns = min(columns, max(len(images) for images in blocks.values()))

  def mosaic(images: np.ndarray) -> np.ndarray:
    rows = -(-len(images) // columns)
    padded = np.zeros((rows * columns, side, side))  # Blank where a row is not full.
    padded[: len(images)] = np.asarray(images).reshape(-1, side, side)
    tiles = np.pad(padded, ((0, 0), (1, 1), (1, 1)), constant_values=0.3)  # Grey lines.
    tiles = tiles.reshape(rows, columns, side + 2, side + 2)
    return tiles.transpose(0, 2, 1, 3).reshape(rows * (side + 2), columns * (side + 2))

  mosaics = {block: mosaic(images) for block, images in blocks.items()}
  height, width = next(iter(mosaics.values())).shape
  scale = 0.09
  count = len(mosaics)
  extra = 1.3  # The title and the colour bar.
  size = (max(width * scale, 5.0), (height * scale + 0.4) * count + extra) if stacked else (
      max((width * scale + 0.2) * count, 5.0), height * scale + 0.4 + extra)
  figure = Figure(figsize=size, layout="constrained")
  axes = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(
      1, count, squeeze=False)[0]
  for ax, (block, image) in zip(axes, mosaics.items()):
    shown = ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_title(block, fontsize=9)
    ax.set_axis_off()
    if not np.isfinite(image).all():
      ax.text(0.5, 0.5, "diverged: pixels not finite", transform=ax.transAxes, ha="center",
              va="center", fontsize=9, color="C3", bbox=dict(fc="w", ec="C3"))
  bar = figure.colorbar(shown, ax=axes, location="bottom", shrink=0.5, aspect=40)
  bar.set_label(key, fontsize=8)
  bar.ax.tick_params(labelsize=7)
  _title(figure, title)
  return figure


def likelihood_vs_samples_figure(
    dims: Sequence[int], curves: Mapping[tuple[str, str], np.ndarray], log_weight: float, *,
    title: str,
) -> Figure:
  """Held-out log-likelihood and sample quality against dimension, a curve per model.

  Args:
    dims: the dimensions.
    curves: (quantity, model) -> ``[len(dims), 2]`` mean and standard error, for the
      quantities log_likelihood_per_dim, classifier_accuracy, precision, recall and
      mmd_p_value.
    log_weight: log of the noisy model's weight on p: its bound is log p + log_weight.
    title: the figure's title: the experiment and its config.
  """
  models = list(dict.fromkeys(model for _, model in curves))
  figure = Figure(figsize=(13.0, 4.0), layout="constrained")
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
  likelihood_axes.set(xscale="log", xlabel="dimension d",
                      ylabel="nats per dimension (symmetric log scale)",
                      title="held-out log-likelihood / d")
  likelihood_axes.set_yscale("symlog", linthresh=1.0)
  accuracy_axes.axhline(0.5, c="k", lw=0.8, ls=":")
  accuracy_axes.set(xscale="log", xlabel="dimension d",
                    ylabel="held-out accuracy (fraction; 0.5: chance)",
                    title="classifier two-sample test", ylim=(0.4, 1.02))
  quality_axes.set(xscale="log", xlabel="dimension d", ylabel="fraction of points",
                   title="precision (o) and recall (s)", ylim=(-0.02, 1.02))
  p_axes.axhline(0.05, c="k", lw=0.8, ls=":")
  p_axes.set(xscale="log", yscale="log", xlabel="dimension d",
             ylabel="p-value (log scale; dotted: 0.05)", title="MMD permutation test")
  for ax in (likelihood_axes, accuracy_axes, p_axes):
    ax.legend(fontsize=7)
  quality_axes.legend(fontsize=6, ncol=2)
  for ax in (likelihood_axes, accuracy_axes, quality_axes, p_axes):
    ax.title.set_fontsize(10)
    _integer_ticks(ax, dims)
  _title(figure, title)
  return figure


def power_figure(
    sample_sizes: Sequence[int],
    rejections: Mapping[tuple[str, int, str, str], float],
    alpha: float,
    interval: Sequence[float],
    *,
    panels: Mapping[str, str],
    title: str,
) -> Figure:
  """Each test's rejection rate against sample size, a panel per problem, under its null
  and under its alternative.

  Args:
    sample_sizes: points per side.
    rejections: (problem, sample size, hypothesis "null" or "alternative", test) ->
      rejection rate.
    alpha: the level.
    interval: the band that a size-alpha test's null rejection rate falls in with chance 95%.
    panels: problem -> the panel's title, in the panels' order.
    title: the figure's title: the experiment and its config.
  """
  tests = list(dict.fromkeys(test for *_, test in rejections))
  figure = Figure(figsize=(4.0 + 3.2 * len(panels), 4.2), layout="constrained")
  axes = np.atleast_1d(figure.subplots(1, len(panels), sharey=True))
  n = np.asarray(sample_sizes, float)
  for ax, (problem, panel_title) in zip(axes, panels.items()):
    ax.axhspan(*interval, color="0.85", lw=0, label=f"95% band of a size-{alpha:g} test")
    for index, test in enumerate(tests):
      power = [rejections[problem, size, "alternative", test] for size in sample_sizes]
      null = [rejections[problem, size, "null", test] for size in sample_sizes]
      ax.plot(n, power, "o-", c=f"C{index}", ms=3, label=f"{test}: power")
      ax.plot(n, null, "x:", c=f"C{index}", label=f"{test}: type-I error")
    ax.set(xscale="log", xlabel="points per side n", title=panel_title, ylim=(-0.02, 1.02))
    ax.title.set_fontsize(10)
    _integer_ticks(ax, sample_sizes)
  axes[0].set_ylabel(f"rejection rate at p <= {alpha:g} (fraction)")
  axes[0].legend(fontsize=7)
  _title(figure, title)
  return figure
