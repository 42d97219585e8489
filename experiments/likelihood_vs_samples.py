"""Is likelihood a good measure? Held-out log-likelihood against likelihood-free tests of
samples, for a known p, a memorizer and a noisy model; and the tests' calibration.

Writes to the workdir: config.json; study.csv (a row per dimension, model and replicate:
the held-out log-likelihood and every two-sample statistic); calibration.csv (a row per
sample size, problem, hypothesis and replicate: every test's outcome); summary.md (the tables);
study.png and calibration.png. :mod:`gan_theory.studies.likelihood_vs_samples` computes
them all.
"""

from pathlib import Path

import ml_collections
import numpy as np
from absl import logging
from matplotlib.figure import Figure

from experiments import plots, workdir as workdir_lib
from gan_theory import two_sample
from gan_theory.studies import likelihood_vs_samples as study
from gan_theory.studies.likelihood_vs_samples import HYPOTHESES, MODELS, TESTS, Results, validate

__all__ = ["OUTPUTS", "compute", "report", "validate"]

OUTPUTS = (
    "config.json", "study.csv", "calibration.csv", "summary.md", "study.png", "calibration.png",
)
# The quantities of the study's figure, each a curve per model against the dimension.
_TEST_NAMES = {"mmd": "MMD", "classifier": "classifier", "learned_kernel": "learned-kernel MMD"}
_CURVE_FIELDS = ("mmd_p_value", "classifier_accuracy", "precision", "recall")
# The tests' means in the summary's study table, in its column order.
_TABLE_FIELDS = (
    "mmd_p_value", "classifier_accuracy", "precision", "recall", "density", "coverage",
)


def compute(config: ml_collections.ConfigDict, workdir: Path) -> Results:
  """The study's results; ``workdir`` is unused, nothing is checkpointed."""
  del workdir
  return study.compute(config, on_progress=logging.info)


def failure(config: ml_collections.ConfigDict, results) -> None:
  """Always None: nothing here trains, so nothing diverges."""
  del config, results


def report(config: ml_collections.ConfigDict, results: Results) -> dict[str, str | Figure]:
  """The tables, the summary and the figures of ``results``, by file name."""
  dims, sizes = tuple(config.dims), tuple(config.calibration.sample_sizes)
  problems = tuple(config.calibration.problems)
  calibration = results.calibration
  rejections = {
      (problem, size, hypothesis, _TEST_NAMES[test]):
          float(calibration.rejection_rate[s, p, h, t])
      for s, size in enumerate(sizes) for p, problem in enumerate(problems)
      for h, hypothesis in enumerate(HYPOTHESES) for t, test in enumerate(TESTS)
  }
  return {
      "study.csv": _study_csv(dims, results.study),
      "calibration.csv": _calibration_csv(sizes, problems, calibration.evaluation),
      "summary.md": _summary_md(config, results),
      "study.png": plots.likelihood_vs_samples_figure(
          dims, _study_curves(results.summary), results.summary.log_signal_weight,
          title=f"Is likelihood a good measure? Held-out log-likelihood and tests of"
                f" {config.two_sample.num_samples:,} samples per model, mean ± standard error"
                f" over {config.num_replicates} replicates\np: {config.target.num_modes}"
                f" Gaussians of std {config.target.std:g}; memorizer: a kernel density on"
                f" {config.num_train:,} training points; noisy:"
                f" {config.signal_weight:g} p + {1 - config.signal_weight:g} Gaussian",
      ),
      "calibration.png": plots.power_figure(
          sizes, rejections, config.calibration.alpha, calibration.null_band_rate,
          panels={problem: _problem_title(config, problem) for problem in problems},
          title=f"Is likelihood a good measure? The tests' calibration:"
                f" {config.calibration.num_replicates} replicates per n; type-I error: each"
                f" problem's first distribution against itself",
      ),
  }


def _study_csv(dims: tuple[int, ...], replicates: study.Study) -> str:
  fields = two_sample.Evaluation._fields
  log_likelihood, evaluation = replicates
  return workdir_lib.csv_text(
      ["dim", "model", "replicate", "log_likelihood", *fields],
      ([dim, model, r, f"{log_likelihood[d, r, m]:.9g}",
        *(f"{getattr(evaluation, f)[d, r, m]:.6g}" for f in fields)]
       for d, dim in enumerate(dims)
       for r in range(log_likelihood.shape[1]) for m, model in enumerate(MODELS)),
  )


def _calibration_csv(
    sizes: tuple[int, ...], problems: tuple[str, ...], evaluation: two_sample.Evaluation
) -> str:
  fields = two_sample.Evaluation._fields
  return workdir_lib.csv_text(
      ["sample_size", "problem", "hypothesis", "replicate", *fields],
      ([size, problem, hypothesis, r,
        *(f"{getattr(evaluation, f)[s, p, r, h]:.6g}" for f in fields)]
       for s, size in enumerate(sizes) for p, problem in enumerate(problems)
       for r in range(evaluation.mmd2.shape[2]) for h, hypothesis in enumerate(HYPOTHESES)),
  )


def _problem_title(config: ml_collections.ConfigDict, problem: str) -> str:
  """What ``problem`` tests: its null's distribution, then its alternative's second one."""
  if problem == "mean_shift":
    settings = config.calibration
    return f"N(0, I_{settings.dim}) against N({settings.shift:g} e_1, I_{settings.dim})"
  return "Blob: 9 Gaussians against the same correlated"


def _study_curves(summary: study.StudySummary) -> dict[tuple[str, str], np.ndarray]:
  """(quantity, model) -> ``[dims, 2]`` mean and standard error over replicates."""
  estimates = {
      "log_likelihood_per_dim": summary.log_likelihood_per_dim,
      **{field: getattr(summary.evaluation, field) for field in _CURVE_FIELDS},
  }
  return {
      (quantity, model): np.stack([estimate.mean[:, m], estimate.stderr[:, m]], axis=-1)
      for m, model in enumerate(MODELS) for quantity, estimate in estimates.items()
  }


def _summary_md(config: ml_collections.ConfigDict, results: Results) -> str:
  settings, calibration, summary = config.calibration, results.calibration, results.summary
  low, high = calibration.null_band
  replicates = settings.num_replicates
  null, alternative = HYPOTHESES.index("null"), HYPOTHESES.index("alternative")
  calibration_tables = []
  for p, problem in enumerate(settings.problems):
    rows = []
    for s, size in enumerate(settings.sample_sizes):
      cells = []
      for t in range(len(TESTS)):
        inside = "" if calibration.null_in_band[s, p, t] else " (outside)"
        cells.append(f"{100 * calibration.rejection_rate[s, p, null, t]:.1f}%{inside}"
                     f" (size {100 * calibration.attainable_size[s, t]:.2f}%)")
      power = [f"{100 * rate:.1f}%" for rate in calibration.rejection_rate[s, p, alternative]]
      rows.append([size, *cells, *power])
    calibration_tables += [
        f"### {problem}: {_problem_title(config, problem)}",
        "",
        workdir_lib.markdown_table(
            ["n per side", *(f"{_TEST_NAMES[test]} type-I" for test in TESTS),
             *(f"{_TEST_NAMES[test]} power" for test in TESTS)],
            rows, align="r" * (1 + 2 * len(TESTS)),
        ),
        "",
    ]

  study_rows = []
  for d, dim in enumerate(config.dims):
    for m, model in enumerate(MODELS):
      mean, stderr = (float(v[d, m]) for v in summary.log_likelihood)
      cells = [f"{mean:.2f} ± {stderr:.2g}"]
      for field in _TABLE_FIELDS:
        cells.append(f"{float(getattr(summary.evaluation, field).mean[d, m]):.3f}")
      study_rows.append([dim, model, *cells])
    study_rows.append([
        dim, f"bound log p + log {config.signal_weight:g}",
        f"{float(summary.noisy_bound[d]):.2f} (noisy - bound:"
        f" {float(summary.noisy_bound_gap[d]):+.3f} at least)", *[""] * 6,
    ])

  alpha = settings.alpha
  return "\n".join([
      "# Is likelihood a good measure?",
      "",
      f"## The tests' calibration: {replicates} replicates per sample size",
      "",
      "Each problem's first distribution against itself (type-I error) and against its"
      f" other one (power), rejecting at p <= {alpha:g}. Under the null the rejections of a"
      f" test of size {alpha:g} fall in [{low}, {high}] of {replicates} with chance 95%;"
      " 'size' is the largest rejection chance the test's discrete p-values allow"
      f" (the MMD tests' {config.two_sample.num_permutations} permutations, the classifier"
      " test's binomial tail). The learned-kernel test trains its kernel on half of each"
      " sample and tests on the other half (Liu et al. 2020).",
      "",
      *calibration_tables,
      f"## The study: {config.num_replicates} replicates per dimension",
      "",
      f"Held-out log-likelihood (nats, mean ± SE) of {config.two_sample.num_samples} points of"
      f" p, and each model's {config.two_sample.num_samples} samples against them: MMD"
      " p-value, classifier accuracy, precision, recall, density, coverage (means).",
      "",
      workdir_lib.markdown_table(
          ["d", "model", "log-likelihood", "MMD p", "classifier acc.", "precision", "recall",
           "density", "coverage"], study_rows, align="rlrrrrrrr",
      ),
      "",
  ])
