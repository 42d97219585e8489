"""Is likelihood a good measure? Held-out log-likelihood against likelihood-free tests.

Two measurements, each a pure function of the config (:func:`compute`):

* the study: in each dimension, a random Gaussian mixture p and three models of it, p
  itself, a memorizer (a kernel density on training draws: its samples copy data, its
  likelihood is poor) and a noisy model ``w p + (1 - w) q`` (q the Gaussian of p's moments:
  its log-likelihood is within ``log w`` of p's, its samples mostly noise), each scored by
  its held-out log-likelihood and by every two-sample test of its samples;
* the calibration: the type-I error and the power of every test, per sample size, on two
  problems: ``N(0, I)`` against itself and against ``N(shift e_1, I)``; Blob (Liu et al.
  2020), nine Gaussians on a grid against themselves and against the same with correlated
  coordinates.

Every random draw comes from ``config.seed``, one stream per measurement, dimension, problem
and sample size.
"""

import math
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_theory import distributions, sharding, two_sample
from gan_theory.metrics import binomial_interval, mean_and_stderr
from gan_theory.studies import no_progress
from gan_theory.validation import (
    ConfigError,
    check_choices,
    check_fraction,
    check_int,
    check_positive,
    check_positive_ints,
)

__all__ = [
    "FLOATS_PER_BATCH",
    "HYPOTHESES",
    "MODELS",
    "PROBLEMS",
    "TESTS",
    "Calibration",
    "Estimate",
    "Model",
    "Results",
    "Study",
    "StudySummary",
    "attainable_sizes",
    "calibration_replicates",
    "calibration_samples",
    "compute",
    "estimate",
    "mean_log_prob",
    "null_band",
    "rejection_counts",
    "study_models",
    "study_replicates",
    "summarize_calibration",
    "summarize_study",
    "validate",
]

# p itself, the memorizer p1 and the noisy model p2 of the lecture.
MODELS = ("data", "memorizer", "noisy")
# The calibration's problems: N(0, I_dim) against N(shift e_1, I_dim); Blob-D's two
# mixtures (distributions.blob).
PROBLEMS = ("mean_shift", "blob")
# Both samples from the problem's first distribution; the second from its other one.
HYPOTHESES = ("null", "alternative")
TESTS = ("mmd", "classifier", "learned_kernel")
# Floats per lax.map batch of held-out points in the log-likelihood: bounds its memory.
FLOATS_PER_BATCH = 1 << 24
# fold_in tags: the study's and the calibration's keys never meet.
_STUDY, _CALIBRATION = 0, 1

Model = distributions.GaussianMixture | distributions.Blend
Tree = TypeVar("Tree")


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field that :func:`compute` reads.

  Args:
    config: the experiment's config.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  check_int(config, "seed", minimum=0)
  check_positive_ints(config, "dims")
  check_int(config, "target.num_modes")
  check_positive(config, "target.mode_scale")
  check_positive(config, "target.std")
  check_int(config, "num_train")
  check_positive(config, "memorizer_variance")
  check_fraction(config, "signal_weight")
  check_int(config, "num_replicates")
  two_sample.validate(config, "two_sample")
  check_choices(config, "calibration.problems", PROBLEMS)
  check_int(config, "calibration.dim")
  check_positive(config, "calibration.shift")
  # Two points per half for the classifier, more than k for the k-nearest neighbours.
  smallest = max(4, config.two_sample.num_neighbours + 1)
  for size in check_positive_ints(config, "calibration.sample_sizes"):
    if size < smallest:
      raise ConfigError(
          f"config.calibration.sample_sizes={tuple(config.calibration.sample_sizes)!r}:"
          f" each must be at least {smallest}"
      )
  check_int(config, "calibration.num_replicates")
  check_fraction(config, "calibration.alpha")
  check_int(config, "vmap_size", minimum=0)


class Study(NamedTuple):
  """Every replicate of the study, with leading axes ``[..., replicates, models]``.

  Attributes:
    log_likelihood: each model's mean log-density of the held-out points.
    evaluation: each model's samples against the held-out points, by every test.
  """

  log_likelihood: np.ndarray
  evaluation: two_sample.Evaluation


class Estimate(NamedTuple):
  """A mean over replicates and its standard error.

  Attributes:
    mean: the mean.
    stderr: its standard error, shaped alike.
  """

  mean: np.ndarray
  stderr: np.ndarray


class StudySummary(NamedTuple):
  """The study's replicates reduced, per dimension ``[dims, ...]``.

  Attributes:
    log_likelihood: ``[dims, models]`` the held-out log-likelihood.
    log_likelihood_per_dim: ``[dims, models]`` the same divided by the dimension.
    evaluation: each test's :class:`Estimate`, ``[dims, models]``.
    log_signal_weight: ``log w``: the noisy model's log-likelihood is at least p's plus it.
    noisy_bound: ``[dims]`` the mean of p's log-likelihood plus ``log w``.
    noisy_bound_gap: ``[dims]`` the least, over replicates, of the noisy model's
      log-likelihood minus that bound: never negative but for rounding.
  """

  log_likelihood: Estimate
  log_likelihood_per_dim: Estimate
  evaluation: two_sample.Evaluation
  log_signal_weight: float
  noisy_bound: np.ndarray
  noisy_bound_gap: np.ndarray


class Calibration(NamedTuple):
  """Every test's outcomes under both hypotheses of every problem, per sample size.

  The problems are ``config.calibration.problems``, in that order.

  Attributes:
    evaluation: every replicate's evaluation, ``[sample sizes, problems, replicates,
      hypotheses]``.
    rejection_rate: ``[sample sizes, problems, hypotheses, tests]`` the share of p-values
      <= alpha.
    attainable_size: ``[sample sizes, tests]`` the largest chance of a p-value <= alpha
      under the null that each test's discrete p-values allow.
    null_band: ``[2]`` the least and the most rejections, of the replicates, of a size-alpha
      test under the null with chance 95%.
    null_band_rate: ``[2]`` the same as shares of the replicates.
    null_in_band: ``[sample sizes, problems, tests]`` whether the rejections under the
      null are in it.
  """

  evaluation: two_sample.Evaluation
  rejection_rate: np.ndarray
  attainable_size: np.ndarray
  null_band: np.ndarray
  null_band_rate: np.ndarray
  null_in_band: np.ndarray


class Results(NamedTuple):
  """Everything the experiment reports.

  Attributes:
    study: every replicate, ``[dims, replicates, models]``.
    summary: the study reduced over replicates.
    calibration: the tests' calibration.
  """

  study: Study
  summary: StudySummary
  calibration: Calibration


def _num_components(model: Model) -> int:
  if isinstance(model, distributions.Blend):
    return _num_components(model.first) + _num_components(model.second)
  return model.num_modes


def mean_log_prob(
    model: Model, x: jax.Array, floats_per_batch: int = FLOATS_PER_BATCH
) -> jax.Array:
  """The mean log-density of the points ``x`` under ``model``, a bounded batch at a time.

  Args:
    model: a mixture or a blend of two.
    x: ``[n, d]`` points.
    floats_per_batch: at most this many floats of ``[batch, components, d]`` at once
      (at least one point a batch).

  Returns:
    The scalar mean.
  """
  batch = max(1, floats_per_batch // (_num_components(model) * x.shape[1]))
  return jnp.mean(jax.lax.map(model.log_prob, x, batch_size=min(batch, x.shape[0])))


def study_models(
    target: distributions.GaussianMixture,
    train: jax.Array,
    memorizer_variance: float,
    signal_weight: float,
) -> tuple[distributions.GaussianMixture, distributions.GaussianMixture, distributions.Blend]:
  """The three models of :data:`MODELS`: p, the memorizer and the noisy model.

  Args:
    target: p; its modes must be concrete (the noisy model's Gaussian is fitted to them).
    train: ``[num_train, d]`` draws of p, the memorizer's kernel centres.
    memorizer_variance: the variance per coordinate of the memorizer's kernels.
    signal_weight: ``w``, the noisy model's weight on p.

  Returns:
    ``(p, p1, p2)`` with ``p1 = 1/n sum_i N(x_i, variance I)`` and ``p2 = w p + (1 - w) q``.
  """
  memorizer = distributions.GaussianMixture(train, math.sqrt(memorizer_variance))
  noisy = distributions.Blend(
      target, distributions.moment_matched_gaussian(target), signal_weight
  )
  return target, memorizer, noisy


def study_replicates(config: ml_collections.ConfigDict, dim: int) -> Study:
  """Every replicate of the study in ``dim`` dimensions, ``[replicates, models]``.

  The target p depends on the seed and ``dim`` alone; each replicate draws its own
  training set, held-out points (``two_sample.num_samples`` of them), model samples (as
  many) and test randomness.

  Args:
    config: the experiment's config (:func:`validate`).
    dim: the dimension.

  Returns:
    The :class:`Study`.
  """
  target_key, base = jax.random.split(
      jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), _STUDY), dim)
  )
  target = distributions.random_mixture(target_key, dim, **config.target.to_dict())
  num_samples = config.two_sample.num_samples
  evaluate = jax.vmap(two_sample.make_evaluate(config.two_sample), in_axes=(0, None, 0))

  def replicate(index):
    train_key, held_out_key, sample_key, test_key = jax.random.split(
        jax.random.fold_in(base, index), 4
    )
    held_out = target.sample(held_out_key, num_samples)
    # The target is a constant of the traced replicate: its modes stay concrete.
    models = study_models(
        target, target.sample(train_key, config.num_train), config.memorizer_variance,
        config.signal_weight,
    )
    log_likelihood = jnp.stack([mean_log_prob(model, held_out) for model in models])
    samples = jnp.stack([
        model.sample(key, num_samples)
        for model, key in zip(models, jax.random.split(sample_key, len(models)))
    ])
    return Study(
        log_likelihood, evaluate(jax.random.split(test_key, len(models)), held_out, samples)
    )

  replicates = np.arange(config.num_replicates, dtype=np.uint32)
  return sharding.map_runs(replicate, replicates, config.vmap_size)


def calibration_samples(
    key: jax.Array, problem: str, sample_size: int, dim: int, shift: float
) -> tuple[jax.Array, jax.Array]:
  """Two samples per hypothesis of ``problem``, each drawn afresh.

  Args:
    key: a typed key.
    problem: one of :data:`PROBLEMS`: ``"mean_shift"`` draws from ``N(0, I_dim)``, the
      alternative's second sample from ``N(shift e_1, I_dim)``; ``"blob"`` draws from
      ``distributions.blob()``, the alternative's second sample from its correlated twin
      (in 2-D: ``dim`` and ``shift`` are unused).
    sample_size: points per sample.
    dim: the mean-shift problem's dimension.
    shift: its second sample's shift along ``e_1`` under the alternative.

  Returns:
    ``(first, second)``, each ``[hypotheses, sample_size, d]`` in :data:`HYPOTHESES` order.
  """
  if problem == "mean_shift":
    draws = jax.random.normal(key, (len(HYPOTHESES), 2, sample_size, dim))
    offsets = jnp.zeros((len(HYPOTHESES), dim)).at[HYPOTHESES.index("alternative"), 0].set(
        shift
    )
    return draws[:, 0], draws[:, 1] + offsets[:, None]
  if problem == "blob":
    first_key, null_key, alternative_key = jax.random.split(key, 3)
    blob = distributions.blob()
    first = blob.sample(first_key, len(HYPOTHESES) * sample_size)
    # In HYPOTHESES order: the null's second sample from the blob, the alternative's from
    # its correlated twin.
    second = jnp.stack([
        blob.sample(null_key, sample_size),
        distributions.blob(correlated=True).sample(alternative_key, sample_size),
    ])
    return first.reshape(len(HYPOTHESES), sample_size, 2), second
  raise ValueError(f"unknown problem {problem!r}; valid: {', '.join(PROBLEMS)}")


def calibration_replicates(
    config: ml_collections.ConfigDict, problem: str, sample_size: int
) -> two_sample.Evaluation:
  """Every replicate's evaluation of both hypotheses of ``problem`` at ``sample_size``.

  Args:
    config: the experiment's config (:func:`validate`).
    problem: one of :data:`PROBLEMS`.
    sample_size: points per sample.

  Returns:
    The evaluation, ``[replicates, hypotheses]``.
  """
  settings = config.calibration
  base = jax.random.fold_in(jax.random.fold_in(
      jax.random.fold_in(jax.random.key(config.seed), _CALIBRATION), PROBLEMS.index(problem)
  ), sample_size)
  evaluate = jax.vmap(two_sample.make_evaluate(config.two_sample))

  def replicate(index):
    data_key, test_key = jax.random.split(jax.random.fold_in(base, index))
    first, second = calibration_samples(
        data_key, problem, sample_size, settings.dim, settings.shift
    )
    return evaluate(jax.random.split(test_key, len(HYPOTHESES)), first, second)

  replicates = np.arange(settings.num_replicates, dtype=np.uint32)
  return sharding.map_runs(replicate, replicates, config.vmap_size)


def estimate(values: np.ndarray, axis: int) -> Estimate:
  """The mean of ``values`` over the replicates along ``axis``, with its standard error.

  Args:
    values: replicates of a quantity, NaN where missing (:func:`mean_and_stderr`).
    axis: the replicate axis.

  Returns:
    The :class:`Estimate`, without that axis.
  """
  mean, stderr = mean_and_stderr(values, axis=axis)
  return Estimate(np.asarray(mean), np.asarray(stderr))


def summarize_study(dims: tuple[int, ...], study: Study, signal_weight: float) -> StudySummary:
  """Reduces the study's replicates.

  Args:
    dims: the dimensions of the study's leading axis.
    study: ``[dims, replicates, models]``.
    signal_weight: ``w``, the noisy model's weight on p.

  Returns:
    The :class:`StudySummary`.
  """
  log_likelihood = study.log_likelihood
  per_dim = log_likelihood / np.asarray(dims, log_likelihood.dtype)[:, None, None]
  log_signal_weight = math.log(signal_weight)
  # log(w p + (1 - w) q) >= log w + log p, point by point, so also for the means.
  bound = log_likelihood[..., MODELS.index("data")] + log_signal_weight
  gap = log_likelihood[..., MODELS.index("noisy")] - bound
  return StudySummary(
      log_likelihood=estimate(log_likelihood, axis=1),
      log_likelihood_per_dim=estimate(per_dim, axis=1),
      evaluation=two_sample.Evaluation(*(estimate(v, axis=1) for v in study.evaluation)),
      log_signal_weight=log_signal_weight,
      noisy_bound=np.mean(bound, axis=-1),
      noisy_bound_gap=np.min(gap, axis=-1),
  )


def rejection_counts(p_values: np.ndarray, alpha: float, axis: int) -> np.ndarray:
  """How many of the p-values along ``axis`` reject at level ``alpha``: ``p <= alpha``.

  Args:
    p_values: p-values, replicates along ``axis``.
    alpha: the level.
    axis: the replicate axis.

  Returns:
    The integer counts, without that axis.
  """
  return np.sum(np.asarray(p_values) <= alpha, axis=axis)


def attainable_sizes(alpha: float, num_permutations: int, sample_size: int) -> np.ndarray:
  """The largest chance of a p-value <= ``alpha`` under the null each test's p-values allow.

  The permutation tests' p-value (the MMD's and the learned kernel's) is uniform on
  ``{1, ..., B + 1} / (B + 1)`` under the null; the classifier test's is a tail of
  ``Binomial(held-out points, 1/2)``, and a sample of ``n`` keeps ``n - n // 2`` points a
  side held out.

  Args:
    alpha: the level.
    num_permutations: ``B``, the MMD test's permutations.
    sample_size: ``n``, points per sample.

  Returns:
    ``[tests]`` the sizes, in :data:`TESTS` order.
  """
  held_out = 2 * (sample_size - sample_size // 2)
  tails = np.asarray(two_sample.binomial_p_value(np.arange(held_out + 1), held_out))
  permutation = math.floor(alpha * (num_permutations + 1)) / (num_permutations + 1)
  return np.array([permutation, float(np.max(tails[tails <= alpha], initial=0.0)), permutation])


def null_band(num_replicates: int, alpha: float) -> np.ndarray:
  """The central 95% interval of a size-``alpha`` test's rejections in ``num_replicates``.

  Args:
    num_replicates: independent tests under the null.
    alpha: the test's size.

  Returns:
    ``[2]`` the least and the most rejections, integers.
  """
  return np.array(binomial_interval(num_replicates, alpha))


def summarize_calibration(
    config: ml_collections.ConfigDict, evaluation: two_sample.Evaluation
) -> Calibration:
  """Rejection rates, attainable sizes and the null band of the calibration.

  Args:
    config: the experiment's config (:func:`validate`).
    evaluation: ``[sample sizes, problems, replicates, hypotheses]``, sizes and problems
      as in ``config.calibration``.

  Returns:
    The :class:`Calibration`.
  """
  settings = config.calibration
  counts = np.stack([
      rejection_counts(getattr(evaluation, f"{test}_p_value"), settings.alpha, axis=2)
      for test in TESTS
  ], axis=-1)
  band = null_band(settings.num_replicates, settings.alpha)
  null_counts = counts[:, :, HYPOTHESES.index("null")]
  return Calibration(
      evaluation=evaluation,
      rejection_rate=counts / settings.num_replicates,
      attainable_size=np.stack([
          attainable_sizes(settings.alpha, config.two_sample.num_permutations, size)
          for size in settings.sample_sizes
      ]),
      null_band=band,
      null_band_rate=band / settings.num_replicates,
      null_in_band=(band[0] <= null_counts) & (null_counts <= band[1]),
  )


def _stack(trees: list[Tree]) -> Tree:
  """Pytrees of equal structure stacked leaf by leaf along a new leading axis."""
  return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


# Full float32 matmuls on every backend: the results are compared with exact values, which
# TF32, the default on recent NVIDIA GPUs, would miss by about 1e-3.
@jax.default_matmul_precision("highest")
def compute(
    config: ml_collections.ConfigDict, on_progress: Callable[[str], None] = no_progress
) -> Results:
  """The study in every dimension and the calibration of every problem and sample size.

  Args:
    config: the experiment's config (:func:`validate`).
    on_progress: told as each dimension and each (sample size, problem) is done.

  Returns:
    The :class:`Results`.
  """
  dims = tuple(config.dims)
  by_dim = []
  for dim in dims:
    by_dim.append(study_replicates(config, dim))
    on_progress(f"the models in d = {dim}: done")
  by_size = []
  for size in config.calibration.sample_sizes:
    by_problem = []
    for problem in config.calibration.problems:
      by_problem.append(calibration_replicates(config, problem, size))
      on_progress(f"the tests' calibration, {problem}, {size} points a side: done")
    by_size.append(_stack(by_problem))
  study, calibration = _stack(by_dim), _stack(by_size)
  return Results(
      study=study,
      summary=summarize_study(dims, study, config.signal_weight),
      calibration=summarize_calibration(config, calibration),
  )
