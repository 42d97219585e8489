"""The IWAE bounds on a model with an exact likelihood, and the gradient estimators behind them.

Writes to the workdir: config.json; bounds.csv (each bound L_k, averaged over the data,
per replicate, with the exact log p(x)); snr.csv (the signal-to-noise ratio of each
parameter's gradient of L_k, per encoder gradient estimator, parameter entry and k); estimator_variance.csv (the
pathwise and score-function estimators of a quadratic's gradient, per covariance,
dimension and parameter); summary.md (the tables and fitted slopes); bounds.png, snr.png
and estimator_variance.png. :mod:`gan_theory.studies.iwae_bounds` computes them all.
"""

import math
from pathlib import Path

import ml_collections
import numpy as np
from absl import logging
from matplotlib.figure import Figure

from experiments import plots, workdir as workdir_lib
from gan_theory import vae
from gan_theory.studies import iwae_bounds as study

OUTPUTS = (
    "config.json", "bounds.csv", "snr.csv", "estimator_variance.csv", "summary.md",
    "bounds.png", "snr.png", "estimator_variance.png",
)
# The parameters of each covariance's Gaussian, in the order of the summary's rows.
_GAUSSIAN_FIELDS = {
    "diagonal": vae.DiagonalGaussian._fields, "full": vae.FullCovarianceGaussian._fields,
}

validate = study.validate  # The protocol's check of the config: the study's.


def compute(config: ml_collections.ConfigDict, workdir: Path) -> study.Results:
  """The study's results; ``workdir`` is unused, nothing is checkpointed."""
  del workdir
  return study.compute(config, on_progress=logging.info)


def failure(config: ml_collections.ConfigDict, results) -> None:
  """Always None: nothing here trains, so nothing diverges."""
  del config, results


def report(config: ml_collections.ConfigDict, results: study.Results) -> dict[str, str | Figure]:
  """The tables, the summary and the figures of ``results``, by file name."""
  bound_summary = results.bound_summary
  by_k = {k: (mean, stderr) for k, mean, stderr in
          zip(results.ks, bound_summary.mean, bound_summary.stderr)}
  log_p_x = float(results.log_p_x)
  model = (f"p(z) = N(mu, I), p(x | z) = N(z, I) in {config.dim} dimensions, {config.num_data}"
           f" data points; q(z | x) perturbed by N(0, {config.perturbation:g}²) from its optimum")
  return {
      "bounds.csv": _bounds_csv(results),
      "snr.csv": _snr_csv(results),
      "estimator_variance.csv": _moments_csv(results),
      "summary.md": _summary_md(config, results),
      "bounds.png": plots.bounds_figure(
          results.ks, by_k, log_p_x,
          title=f"IWAE bounds against the exact log p(x): mean ± standard error over"
                f" {config.num_replicates:,} estimates\n{model}",
      ),
      "snr.png": plots.snr_figure(
          results.ks, results.snr.mean, results.snr.floor,
          title=f"IWAE bounds: the gradients' signal-to-noise ratio over"
                f" {config.num_replicates:,} estimates, mean over each parameter's"
                f" entries\n{model}",
      ),
      "estimator_variance.png": plots.estimator_variance_figure(
          results.dims,
          {key: moments.variance_per_entry for key, moments in results.moments.items()},
          title=f"IWAE bounds: pathwise against score-function gradients of E_q[(z - c)^T A"
                f" (z - c) / 2], {config.estimators.num_samples:,} samples per dimension"
                "\nsolid: q's mean, dashed: its scale parameter",
      ),
  }


def _bounds_csv(results: study.Results) -> str:
  log_p_x = float(results.log_p_x)
  return workdir_lib.csv_text(
      ["k", "replicate", "bound", "log_p_x"],
      ([k, r, f"{value:.9g}", f"{log_p_x:.9g}"]
       for k, of_k in zip(results.ks, results.bounds) for r, value in enumerate(of_k)),
  )


def _snr_csv(results: study.Results) -> str:
  per_entry = results.snr.per_entry
  return workdir_lib.csv_text(
      ["encoder_gradient", "part", "parameter", "entry", "k", "snr"],
      ([estimator, part, name, entry, k, f"{value:.9g}"]
       for index, k in enumerate(results.ks)
       for (estimator, part, name), values in per_entry.items()
       for entry, value in enumerate(np.ravel(values[index]))),
  )


def _moments_csv(results: study.Results) -> str:
  return workdir_lib.csv_text(
      ["covariance", "dim", "estimator", "parameter", "variance_per_entry", "sum_z_squared",
       "entries"],
      ([covariance, dim, estimator, name, f"{moments.variance_per_entry[index]:.9g}",
        f"{moments.sum_z_squared[index]:.6g}", int(moments.entries[index])]
       for of_covariance in study.COVARIANCES
       for index, dim in enumerate(results.dims)
       for (covariance, estimator, name), moments in results.moments.items()
       if covariance == of_covariance),
  )


def _fitted_range(ks: np.ndarray, fit: study.PowerLawFit) -> str:
  """The range of ``k`` a power law was fitted over, ``low..high``, or ``-``."""
  kept = np.asarray(ks)[fit.kept]
  return f"{kept.min()}..{kept.max()}" if kept.size >= 2 else "-"


def _summary_md(config: ml_collections.ConfigDict, results: study.Results) -> str:
  ks, bounds, snr = results.ks, results.bound_summary, results.snr
  log_p_x = float(results.log_p_x)
  rows = []
  for index, k in enumerate(ks):
    step = "" if index == 0 else (
        f"{bounds.step[index - 1]:+.5f} ± {bounds.step_stderr[index - 1]:.1g}"
    )
    rows.append([k, f"{bounds.mean[index]:.5f} ± {bounds.stderr[index]:.1g}",
                 f"{bounds.gap[index]:.3g}", step])
  snr_rows = []
  first_estimator = config.encoder_gradients[0]
  for (estimator, part, name), values in snr.mean.items():
    if part == "decoder" and estimator != first_estimator:
      continue  # The same draws and the same decoder gradient for every estimator.
    above, fit = snr.above_floor[estimator, part, name], snr.fits[estimator, part, name]
    cells = [f"{v:.3g}" if a else f"({v:.2g})" for v, a in zip(values, above)]
    exponent = f"{fit.exponent:+.3f}" if math.isfinite(fit.exponent) else "-"
    snr_rows.append([part, "any" if part == "decoder" else estimator, name, *cells, exponent,
                     _fitted_range(ks, fit)])
  variance_rows = []
  for covariance in study.COVARIANCES:
    for name in _GAUSSIAN_FIELDS[covariance]:
      for estimator in study.ESTIMATORS:
        moments = results.moments[covariance, estimator, name]
        summary = results.estimator_summaries[covariance, estimator, name]
        variance_rows.append([
            covariance, name, estimator, *(f"{v:.3g}" for v in moments.variance_per_entry),
            f"{summary.variance_exponent:+.2f}",
            f"{summary.mean_z_squared:.3f} ± {summary.mean_z_squared_spread:.2g}",
        ])
  gap_fit = bounds.gap_fit
  gap_range = _fitted_range(ks, gap_fit)
  return "\n".join([
      "# IWAE bounds on a linear-Gaussian model",
      "",
      f"p(z) = N(mu, I), p(x | z) = N(z, I) in {config.dim} dimensions; q(z | x) ="
      f" N(A x + c, {config.encoder_std:.4g}^2 I) at the optimal A, c perturbed by"
      f" N(0, {config.perturbation}^2) (Rainforth et al. 2018, section 4); {config.num_data}"
      f" data points from the model; seed {config.seed}.",
      "",
      "## L_1 <= L_2 <= ... <= L_k <= log p(x)",
      "",
      f"Mean ± standard error over {config.num_replicates} independent estimates of the"
      f" k-sample bound averaged over the data; exact log p(x) = {log_p_x:.5f} (the data's"
      " average).",
      "",
      workdir_lib.markdown_table(
          ["k", "L_k", "log p(x) - L_k", "L_k - previous"], rows, align="rrrr"
      ),
      "",
      f"Ordered within 4 standard errors (Burda et al. 2015, Theorem 1): {bounds.ordered}."
      f" The gap falls like k^{gap_fit.exponent:.3f} over k = {gap_range}, where it exceeds 3"
      " standard errors (a Taylor expansion predicts k^-1: gap ~ Var(w / p(x)) / 2k).",
      "",
      "## Signal-to-noise ratio of the gradients",
      "",
      f"|E g| / std(g) over {config.num_replicates} gradient estimates of the averaged"
      " bound, per parameter entry, averaged over the entries. A gradient with mean 0 would"
      f" measure {snr.floor:.3f} (sqrt(2 / (pi M))); values below 3 times that are in"
      f" parentheses, noise-limited, and left out of the power-law fit, made over k >="
      f" {results.fit_from}. Rainforth et al. (2018) predict exponents +1/2 for the decoder"
      " (its gradient tends to that of log p(x), the noise falls like 1/sqrt(k)) and -1/2 for"
      " the encoder's reparameterized gradient (its mean vanishes like 1/k, its noise does"
      " not). STL and DReG (gan_theory.vae.EncoderGradient) drop the score term whose noise"
      " stays: Tucker et al. (2018) predict DReG's ratio rises like sqrt(k); STL is biased"
      " for k > 1. Every estimator is measured on the same draws, and the decoder's gradient is"
      " the same for each ('any').",
      "",
      workdir_lib.markdown_table(
          ["part", "encoder gradient", "parameter", *(f"k = {k}" for k in ks), "exponent",
           "over k"], snr_rows, align="lll" + "r" * (len(ks) + 2),
      ),
      "",
      "## Pathwise against score-function gradients, by dimension",
      "",
      f"grad E_q[(z - c)^T A (z - c) / 2] in q's parameters, {config.estimators.num_samples}"
      " samples per dimension: the per-sample variance per parameter entry, the exponent of"
      " its power law in the dimension, and the mean of z^2, z = (estimate - exact) / standard"
      " error, over every entry and dimension: 1 for an unbiased estimator. After ± the"
      " spread of a mean of as many independent chi^2_1 variables; the entries of one"
      " dimension share their noise, so the actual spread is wider.",
      "",
      workdir_lib.markdown_table(
          ["covariance", "parameter", "estimator", *(f"d = {d}" for d in results.dims),
           "exponent", "mean z^2"], variance_rows, align="lll" + "r" * (len(results.dims) + 2),
      ),
      "",
  ])
