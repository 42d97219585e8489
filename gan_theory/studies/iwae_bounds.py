"""The IWAE bounds on a model with an exact likelihood, and the gradient estimators behind them.

Three measurements, each a pure function of the config (:func:`compute`):

* the bounds ``L_k`` (Burda et al. 2015) of Rainforth et al. (2018, section 4)'s
  linear-Gaussian model, whose ``log p(x)`` is exact, against ``k``;
* the signal-to-noise ratio of each parameter's gradient of ``L_k``: Rainforth et al.
  predict it rises like ``sqrt(k)`` for the decoder and falls like ``1 / sqrt(k)`` for the
  encoder's reparameterized gradient; each of :data:`gan_theory.vae.ENCODER_GRADIENTS`
  (STL and DReG drop the score term behind the fall) is measured on the same draws;
* the per-sample variance of the pathwise and score-function estimators of a quadratic's
  gradient in a Gaussian's parameters, against the dimension.

Every random draw comes from ``config.seed``, one stream per purpose.
"""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_theory import estimators, vae
from gan_theory.metrics import (
    mean_and_stderr,
    power_law_exponent,
    signal_to_noise,
    signal_to_noise_floor,
)
from gan_theory.studies import no_progress
from gan_theory.validation import (
    ConfigError,
    check_choices,
    check_int,
    check_positive,
    check_positive_ints,
)

__all__ = [
    "COVARIANCES",
    "ESTIMATORS",
    "MAX_FLOATS_PER_BATCH",
    "PARAMETERS",
    "BoundSummary",
    "EstimatorMoments",
    "EstimatorSummary",
    "PowerLawFit",
    "Problem",
    "QuadraticProblem",
    "Results",
    "SnrSummary",
    "bound_replicates",
    "compute",
    "estimator_moments",
    "fit_power_law",
    "fit_start",
    "gradient_replicates",
    "gradient_snr",
    "linear_gaussian_problem",
    "quadratic_problem",
    "replicate_keys",
    "replicates_per_batch",
    "summarize_bounds",
    "summarize_estimator",
    "summarize_snr",
    "validate",
]

COVARIANCES = ("diagonal", "full")
ESTIMATORS = ("pathwise", "score_function")
# The parameters whose gradient signal-to-noise ratio is measured, by model part: all of them.
PARAMETERS = {"decoder": vae.LinearGaussian._fields, "encoder": vae.LinearEncoder._fields}
# Floats per lax.map batch of replicates: bounds the memory of the largest k.
MAX_FLOATS_PER_BATCH = 1 << 23
# The random streams of config.seed, one per purpose.
_PROBLEM, _BOUNDS, _GRADIENTS, _QUADRATIC, _ESTIMATOR_NOISE = range(5)
# Bounds and signal-to-noise ratios enter a power-law fit only this far above their noise.
_FIT_STDERRS = 3


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks every field that :func:`compute` reads.

  Args:
    config: the experiment's config.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  check_int(config, "seed", minimum=0)
  for field in ("dim", "num_data", "chunk_size"):
    check_int(config, field)
  check_int(config, "num_replicates", minimum=2)
  check_positive(config, "encoder_std")
  perturbation = config.perturbation
  if isinstance(perturbation, bool) or not isinstance(perturbation, (int, float)) or not (
      perturbation >= 0
  ):
    raise ConfigError(f"config.perturbation={perturbation!r} must be a non-negative number")
  chunk = config.chunk_size
  for k in check_positive_ints(config, "num_importance_samples"):
    if k > chunk and k % chunk:
      raise ConfigError(
          f"config.num_importance_samples={tuple(config.num_importance_samples)!r}: each must"
          f" be at most config.chunk_size={chunk} or a multiple of it"
      )
  check_choices(config, "encoder_gradients", vae.ENCODER_GRADIENTS)
  check_positive_ints(config, "estimators.dims")
  check_int(config, "estimators.num_samples", minimum=2)


class Problem(NamedTuple):
  """The model, the encoder whose bounds are measured, and the data.

  Attributes:
    model: ``p(z) = N(0, I)``, ``p(x | z) = N(z + mu, I)``.
    encoder: the optimal encoder's mean map, perturbed, with a fixed standard deviation.
    data: ``[num_data, dim]`` draws of ``x ~ p(x)``.
  """

  model: vae.LinearGaussian
  encoder: vae.LinearEncoder
  data: jax.Array


def linear_gaussian_problem(
    key: jax.Array, dim: int, num_data: int, encoder_std: float, perturbation: float
) -> Problem:
  """Rainforth et al. (2018, section 4)'s model, a perturbed encoder and data from the model.

  The prior's mean ``mu ~ N(0, I)`` sits in the decoder's bias. The exact posterior is
  ``N((x - mu) / 2, I / 2)``, so the encoder starts at ``A = I / 2``, ``c = -mu / 2``, every
  entry perturbed by ``N(0, perturbation^2)``.

  Args:
    key: a typed key, for mu, the perturbations and the data.
    dim: the dimension of ``z`` and of ``x``.
    num_data: how many data points.
    encoder_std: the encoder's standard deviation in every unit; ``sqrt(1/2)`` is exact.
    perturbation: the standard deviation of the perturbation of ``A`` and ``c``.

  Returns:
    The :class:`Problem`.
  """
  keys = jax.random.split(key, 4)
  identity = jnp.eye(dim)
  prior_mean = jax.random.normal(keys[0], (dim,))
  model = vae.LinearGaussian(weight=identity, bias=prior_mean, log_noise_std=jnp.zeros(()))
  encoder = vae.LinearEncoder(
      weight=identity / 2 + perturbation * jax.random.normal(keys[1], (dim, dim)),
      bias=-prior_mean / 2 + perturbation * jax.random.normal(keys[2], (dim,)),
      log_std=jnp.full((dim,), math.log(encoder_std)),
  )
  return Problem(model, encoder, vae.linear_gaussian_sample(keys[3], model, num_data))


def replicate_keys(key: jax.Array, num_replicates: int) -> jax.Array:
  """``[num_replicates]`` independent keys, ``fold_in(key, r)`` for replicate ``r``."""
  return jax.vmap(lambda r: jax.random.fold_in(key, r))(jnp.arange(num_replicates))


def replicates_per_batch(
    num_replicates: int, floats_per_replicate: int, max_floats: int = MAX_FLOATS_PER_BATCH
) -> int:
  """Replicates per ``lax.map`` batch: as many as hold at most ``max_floats``, at least 1.

  Args:
    num_replicates: how many replicates there are.
    floats_per_replicate: the floats of one replicate's largest array.
    max_floats: the most floats a batch may hold.

  Returns:
    The batch size, in ``1..num_replicates``.
  """
  return max(1, min(num_replicates, max_floats // floats_per_replicate))


@functools.partial(jax.jit, static_argnames=("num_samples", "chunk_size", "batch_size"))
def bound_replicates(
    model: vae.LinearGaussian,
    encoder: vae.LinearEncoder,
    data: jax.Array,
    keys: jax.Array,
    *,
    num_samples: int,
    chunk_size: int,
    batch_size: int,
) -> jax.Array:
  """Independent estimates of ``L_k``, ``k = num_samples``, each averaged over the data.

  Args:
    model: the linear-Gaussian model.
    encoder: the proposal's encoder.
    data: ``[n, D]`` data points.
    keys: ``[M]`` typed keys, one per estimate; point ``i`` draws from ``fold_in(key, i)``.
    num_samples: ``k``, the importance samples of each point's bound.
    chunk_size: the most weights made at once; ``k`` is at most this or a multiple of it.
    batch_size: estimates computed at once.

  Returns:
    ``[M]`` estimates of ``L_k`` averaged over the data.
  """
  chunk = min(num_samples, chunk_size)
  latent_dim = encoder.log_std.shape[-1]

  def one_point(key, point):
    q = vae.linear_encoder(encoder, point)

    def log_weights_of(chunk_key):
      noise = jax.random.normal(chunk_key, (chunk, latent_dim))
      return vae.log_weights(lambda z: vae.linear_gaussian_log_joint(model, point, z), q, noise)

    return vae.importance_estimates(log_weights_of, key, num_samples, chunk).iwae

  def one_replicate(key):
    point_keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(data.shape[0]))
    return jnp.mean(jax.vmap(one_point)(point_keys, data))

  return jax.lax.map(one_replicate, keys, batch_size=batch_size)


@functools.partial(
    jax.jit, static_argnames=("num_samples", "batch_size", "encoder_gradient")
)
def gradient_replicates(
    model: vae.LinearGaussian,
    encoder: vae.LinearEncoder,
    data: jax.Array,
    keys: jax.Array,
    *,
    num_samples: int,
    batch_size: int,
    encoder_gradient: vae.EncoderGradient = vae.ENCODER_GRADIENTS["reparameterized"],
) -> tuple[vae.LinearGaussian, vae.LinearEncoder]:
  """Independent estimates of the gradient of ``L_k``, ``k = num_samples``, averaged over data.

  Args:
    model: the linear-Gaussian model.
    encoder: the proposal's encoder.
    data: ``[n, D]`` data points.
    keys: ``[M]`` typed keys, one per estimate, each drawing all its ``[n, k, d]`` noise.
    num_samples: ``k``, the importance samples of each point's bound.
    batch_size: estimates computed at once.
    encoder_gradient: the encoder's estimator (static: its Python numbers take the cheap
      path of :func:`gan_theory.vae.iwae_objective`).

  Returns:
    ``(decoder, encoder)`` gradients, each field with a leading axis of ``M``.
  """
  noise_shape = (data.shape[0], num_samples, encoder.log_std.shape[-1])

  def mean_bound(params, key):
    noise = jax.random.normal(key, noise_shape)
    return jnp.mean(jax.vmap(vae.linear_gaussian_bound, in_axes=(None, None, 0, 0, None))(
        *params, data, noise, encoder_gradient
    ))

  return jax.lax.map(lambda key: jax.grad(mean_bound)((model, encoder), key), keys,
                     batch_size=batch_size)


def gradient_snr(
    gradients: tuple[vae.LinearGaussian, vae.LinearEncoder],
) -> dict[tuple[str, str], jax.Array]:
  """The signal-to-noise ratio ``|E g| / std(g)`` of every gradient entry over the replicates.

  Args:
    gradients: ``(decoder, encoder)`` gradients, as :func:`gradient_replicates` returns.

  Returns:
    ``(part, parameter) -> ratios``, the parameter's shape, in the order of
    :data:`PARAMETERS`.
  """
  return {
      (part, name): signal_to_noise(getattr(of_part, name))
      for (part, names), of_part in zip(PARAMETERS.items(), gradients)
      for name in names
  }


class QuadraticProblem(NamedTuple):
  """A Gaussian ``q`` and the quadratic ``f(z) = (z - c)^T A (z - c) / 2``.

  Attributes:
    q: a :class:`vae.DiagonalGaussian` or :class:`vae.FullCovarianceGaussian`.
    hessian: ``A``, ``[d, d]``, symmetric with eigenvalues at least 1/2.
    centre: ``c``, ``[d]``.
  """

  q: vae.DiagonalGaussian | vae.FullCovarianceGaussian
  hessian: jax.Array
  centre: jax.Array


def quadratic_problem(key: jax.Array, covariance: str, dim: int) -> QuadraticProblem:
  """A random Gaussian and quadratic in ``dim`` dimensions.

  Args:
    key: a typed key.
    covariance: ``"diagonal"`` (log standard deviations ``~ N(0, 0.3^2)``) or ``"full"``
      (``L = I`` plus a strictly lower triangle ``~ N(0, 1 / dim)``).
    dim: the dimension.

  Returns:
    The :class:`QuadraticProblem`; its hessian is ``F F^T / dim + I / 2``.
  """
  keys = jax.random.split(key, 4)
  mean = jax.random.normal(keys[0], (dim,))
  if covariance == "diagonal":
    q = vae.DiagonalGaussian(mean, 0.3 * jax.random.normal(keys[1], (dim,)))
  else:
    q = vae.FullCovarianceGaussian(
        mean, jnp.eye(dim) + jnp.tril(jax.random.normal(keys[1], (dim, dim)), -1) / math.sqrt(dim)
    )
  factor = jax.random.normal(keys[2], (dim, dim))
  hessian = factor @ factor.T / dim + 0.5 * jnp.eye(dim)
  return QuadraticProblem(q, hessian, jax.random.normal(keys[3], (dim,)))


class EstimatorMoments(NamedTuple):
  """One estimator of one parameter's gradient, over the parameter's entries.

  Entries are those read: all of them but the upper triangle of ``scale_tril``.

  Attributes:
    variance_per_entry: the per-sample variance, averaged over the entries.
    sum_z_squared: the sum over the entries of ``z^2``, ``z = (estimate - exact) / standard
      error``: about 1 per entry for an unbiased estimator.
    entries: how many entries.
  """

  variance_per_entry: jax.Array
  sum_z_squared: jax.Array
  entries: jax.Array


@jax.jit
def estimator_moments(
    problem: QuadraticProblem, noise: jax.Array
) -> dict[tuple[str, str], EstimatorMoments]:
  """The pathwise and score-function estimators of ``grad E_q[f]``, against the exact one.

  Args:
    problem: the Gaussian and the quadratic.
    noise: ``[n, d]`` standard normal draws, ``z = mean + L noise``, shared by both estimators.

  Returns:
    ``(estimator, parameter) -> moments`` for each of :data:`ESTIMATORS` and of ``q``'s
    fields, the keys sorted.
  """
  q, hessian, centre = problem

  def quadratic(z):
    return 0.5 * (z - centre) @ hessian @ (z - centre)

  per_sample = {
      "pathwise": estimators.pathwise_gradients(quadratic, vae.reparameterize, q, noise),
      "score_function": estimators.score_function_gradients(
          quadratic, vae.gaussian_log_prob, q, vae.reparameterize(q, noise)
      ),
  }
  exact = estimators.quadratic_gradient(q, hessian, centre)
  moments = {}
  for estimator, gradients in per_sample.items():
    for name, values, expected in zip(q._fields, gradients, exact):
      read = jnp.tril(jnp.ones(values.shape[1:], bool)) if name == "scale_tril" else True
      read = jnp.broadcast_to(read, values.shape[1:])
      mean, stderr = mean_and_stderr(values)
      variance = jnp.var(values, axis=0, ddof=1)
      moments[estimator, name] = EstimatorMoments(
          variance_per_entry=jnp.sum(jnp.where(read, variance, 0.0)) / jnp.sum(read),
          sum_z_squared=jnp.sum(jnp.where(read, ((mean - expected) / stderr) ** 2, 0.0)),
          entries=jnp.sum(read),
      )
  return dict(sorted(moments.items()))


class PowerLawFit(NamedTuple):
  """A power law ``y ~ c x^exponent`` fitted to some of the points.

  Attributes:
    exponent: the fitted exponent; NaN where fewer than two points were kept.
    kept: ``[n]`` bool, the points fitted.
  """

  exponent: float
  kept: np.ndarray


def fit_power_law(x: np.ndarray, y: np.ndarray, keep: np.ndarray) -> PowerLawFit:
  """The power-law exponent of ``y`` in ``x`` over the points ``keep`` marks.

  Args:
    x: ``[n]`` positive abscissae.
    y: ``[n]`` values, positive where kept.
    keep: ``[n]`` bool, the points to fit.

  Returns:
    The :class:`PowerLawFit`.
  """
  x, y, keep = np.asarray(x), np.asarray(y), np.asarray(keep, bool)
  exponent = power_law_exponent(x[keep], y[keep]) if keep.sum() >= 2 else math.nan
  return PowerLawFit(exponent, keep)


def fit_start(ks: np.ndarray) -> int:
  """The smallest ``k`` of the power-law fits: 10, past the small-``k`` regime, if two reach it.

  Args:
    ks: ``[K]`` increasing numbers of importance samples.

  Returns:
    10 where at least two ``k`` are 10 or more, else the first ``k``.
  """
  ks = np.asarray(ks)
  return 10 if np.sum(ks >= 10) >= 2 else int(ks[0])


class BoundSummary(NamedTuple):
  """The bounds' estimates, their steps in ``k``, and their gap to ``log p(x)``.

  Attributes:
    mean: ``[K]`` the mean estimate of each ``L_k``.
    stderr: ``[K]`` its standard error.
    gap: ``[K]`` ``log p(x) - L_k``.
    step: ``[K - 1]`` ``L_k`` less the previous ``L_k``.
    step_stderr: ``[K - 1]`` the standard error of each step.
    ordered: whether ``L_1 <= L_2 <= ... <= L_k <= log p(x)`` within 4 standard errors.
    gap_fit: the power law of the gap in ``k``, over the ``k`` from :func:`fit_start` on
      whose gap exceeds 3 standard errors.
  """

  mean: np.ndarray
  stderr: np.ndarray
  gap: np.ndarray
  step: np.ndarray
  step_stderr: np.ndarray
  ordered: bool
  gap_fit: PowerLawFit


def summarize_bounds(
    ks: np.ndarray, bounds: jax.Array, log_p_x: jax.Array, fit_from: int
) -> BoundSummary:
  """Means, steps and gap of the bounds, and whether they are ordered (Burda et al., Thm 1).

  Args:
    ks: ``[K]`` increasing numbers of importance samples.
    bounds: ``[K, M]`` independent estimates of each ``L_k``.
    log_p_x: the exact log-likelihood the bounds approach.
    fit_from: the smallest ``k`` of the gap's power-law fit.

  Returns:
    The :class:`BoundSummary`.
  """
  # A reduction per k: one over [K, M] sums in another order, which moves the last digits.
  mean, stderr = (np.array(v) for v in zip(*(mean_and_stderr(of_k) for of_k in bounds)))
  # In float64: the steps and the gap are small differences of the float32 means.
  mean64, stderr64, log_p_x = np.float64(mean), np.float64(stderr), float(log_p_x)
  step, step_stderr = np.diff(mean64), np.hypot(stderr64[:-1], stderr64[1:])
  ordered = bool(np.all(step + 4 * step_stderr >= 0) and mean64[-1] <= log_p_x + 4 * stderr64[-1])
  gap = log_p_x - mean64
  keep = (np.asarray(ks) >= fit_from) & (gap > _FIT_STDERRS * stderr64)
  return BoundSummary(mean, stderr, gap, step, step_stderr, ordered, fit_power_law(ks, gap, keep))


class SnrSummary(NamedTuple):
  """The gradients' signal-to-noise ratios against ``k``.

  Attributes:
    per_entry: ``(encoder_gradient, part, parameter) -> [K, *shape]`` the ratio of each entry,
      ``encoder_gradient`` a key of :data:`gan_theory.vae.ENCODER_GRADIENTS` (the decoder's
      gradient is the same for each).
    mean: ``(encoder_gradient, part, parameter) -> [K]`` the ratio averaged over the entries.
    floor: what a gradient of mean 0 measures on average, ``sqrt(2 / (pi M))``.
    above_floor: ``(encoder_gradient, part, parameter) -> [K]`` bool, ``mean`` more than 3 floors.
    fits: ``(encoder_gradient, part, parameter) -> PowerLawFit`` of ``mean`` in ``k``, over the ``k`` from
      :func:`fit_start` on that are above the floor.
  """

  per_entry: dict[tuple[str, str, str], np.ndarray]
  mean: dict[tuple[str, str, str], np.ndarray]
  floor: float
  above_floor: dict[tuple[str, str, str], np.ndarray]
  fits: dict[tuple[str, str, str], PowerLawFit]


def summarize_snr(
    ks: np.ndarray,
    per_entry: dict[tuple[str, str, str], np.ndarray],
    num_replicates: int,
    fit_from: int,
) -> SnrSummary:
  """Averages each parameter's ratios over its entries and fits their power law in ``k``.

  Args:
    ks: ``[K]`` increasing numbers of importance samples.
    per_entry: ``(encoder_gradient, part, parameter) -> [K, *shape]`` ratios, from ``M = num_replicates``
      gradient estimates each.
    num_replicates: ``M``.
    fit_from: the smallest ``k`` of the power-law fits.

  Returns:
    The :class:`SnrSummary`.
  """
  floor = signal_to_noise_floor(num_replicates)
  mean = {key: np.array([np.mean(of_k) for of_k in values]) for key, values in per_entry.items()}
  above_floor = {key: values > _FIT_STDERRS * floor for key, values in mean.items()}
  large = np.asarray(ks) >= fit_from
  fits = {key: fit_power_law(ks, mean[key], large & above_floor[key]) for key in mean}
  return SnrSummary(per_entry, mean, floor, above_floor, fits)


class EstimatorSummary(NamedTuple):
  """One estimator of one parameter's gradient, over the dimensions.

  Attributes:
    variance_exponent: the power law of the per-entry variance in the dimension; NaN for
      one dimension.
    mean_z_squared: the mean ``z^2`` over every entry of every dimension: 1 if unbiased.
    mean_z_squared_spread: the standard deviation of a mean of as many independent
      ``chi^2_1`` variables, ``sqrt(2 / entries)``.
  """

  variance_exponent: float
  mean_z_squared: float
  mean_z_squared_spread: float


def summarize_estimator(dims: np.ndarray, moments: EstimatorMoments) -> EstimatorSummary:
  """The dimension's power law of an estimator's variance, and its mean ``z^2``.

  Args:
    dims: ``[D]`` the dimensions.
    moments: the :class:`EstimatorMoments` of each dimension, each field ``[D]``.

  Returns:
    The :class:`EstimatorSummary`.
  """
  dims = np.asarray(dims)
  fit = fit_power_law(dims, moments.variance_per_entry, np.ones(dims.shape, bool))
  entries = float(np.sum(moments.entries))
  return EstimatorSummary(
      variance_exponent=fit.exponent,
      mean_z_squared=float(np.sum(np.float64(moments.sum_z_squared))) / entries,
      mean_z_squared_spread=math.sqrt(2 / entries),
  )


class Results(NamedTuple):
  """Everything :func:`compute` measures.

  Attributes:
    ks: ``[K]`` the numbers of importance samples.
    log_p_x: the exact ``log p(x)``, averaged over the data.
    bounds: ``[K, M]`` independent estimates of each ``L_k``, averaged over the data.
    bound_summary: their :class:`BoundSummary`.
    fit_from: the smallest ``k`` of the power-law fits.
    snr: the gradients' :class:`SnrSummary`.
    dims: ``[D]`` the dimensions of the estimators' Gaussians.
    moments: ``(covariance, estimator, parameter) -> EstimatorMoments``, each field ``[D]``;
      per covariance, the keys sorted.
    estimator_summaries: ``(covariance, estimator, parameter) -> EstimatorSummary``.
  """

  ks: np.ndarray
  log_p_x: jax.Array
  bounds: jax.Array
  bound_summary: BoundSummary
  fit_from: int
  snr: SnrSummary
  dims: np.ndarray
  moments: dict[tuple[str, str, str], EstimatorMoments]
  estimator_summaries: dict[tuple[str, str, str], EstimatorSummary]


def _stream(seed: int, purpose: int, index: int) -> jax.Array:
  """The key of one purpose's ``index`` (a ``k`` or a dimension)."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), purpose), index)


# Full float32 matmuls on every backend: the results are compared with exact values, which
# TF32, the default on recent NVIDIA GPUs, would miss by about 1e-3.
@jax.default_matmul_precision("highest")
def compute(
    config: ml_collections.ConfigDict, on_progress: Callable[[str], None] = no_progress
) -> Results:
  """Measures the bounds, their gradients and the estimators, as ``config`` says.

  Args:
    config: a config that :func:`validate` accepts.
    on_progress: told as each k and each covariance's estimators are done.

  Returns:
    The :class:`Results`.
  """
  model, encoder, data = linear_gaussian_problem(
      jax.random.fold_in(jax.random.key(config.seed), _PROBLEM), config.dim, config.num_data,
      config.encoder_std, config.perturbation,
  )
  log_p_x = jnp.mean(vae.linear_gaussian_log_marginal(model, data))
  ks = np.array(config.num_importance_samples)
  bounds, per_entry = [], []
  for k in ks.tolist():
    # The gradients' batches are sized as the bounds' are, by one chunk of samples.
    batch_size = replicates_per_batch(
        config.num_replicates, config.num_data * min(k, config.chunk_size) * config.dim
    )
    bounds.append(bound_replicates(
        model, encoder, data, replicate_keys(_stream(config.seed, _BOUNDS, k),
                                             config.num_replicates),
        num_samples=k, chunk_size=config.chunk_size, batch_size=batch_size,
    ))
    # Every estimator on the same draws.
    gradient_keys = replicate_keys(_stream(config.seed, _GRADIENTS, k), config.num_replicates)
    per_entry.append({
        (name, *key): snr
        for name in config.encoder_gradients
        for key, snr in gradient_snr(gradient_replicates(
            model, encoder, data, gradient_keys, num_samples=k, batch_size=batch_size,
            encoder_gradient=vae.ENCODER_GRADIENTS[name],
        )).items()
    })
    on_progress(f"the bounds and gradients at k = {k}: done")
  bounds = jnp.stack(bounds)
  fit_from = fit_start(ks)

  dims = np.array(config.estimators.dims)
  moments = {}
  for covariance in COVARIANCES:
    of_dims = [
        estimator_moments(
            quadratic_problem(_stream(config.seed, _QUADRATIC, dim), covariance, dim),
            jax.random.normal(_stream(config.seed, _ESTIMATOR_NOISE, dim),
                              (config.estimators.num_samples, dim)),
        )
        for dim in dims.tolist()
    ]
    on_progress(f"the estimators with {covariance} covariance: done")
    for estimator, name in of_dims[0]:
      moments[covariance, estimator, name] = jax.tree.map(
          lambda *values: np.stack(values), *(of_dim[estimator, name] for of_dim in of_dims)
      )
  return Results(
      ks=ks,
      log_p_x=log_p_x,
      bounds=bounds,
      bound_summary=summarize_bounds(ks, bounds, log_p_x, fit_from),
      fit_from=fit_from,
      snr=summarize_snr(
          ks,
          {key: np.stack([of_k[key] for of_k in per_entry]) for key in per_entry[0]},
          config.num_replicates,
          fit_from,
      ),
      dims=dims,
      moments=moments,
      estimator_summaries={
          key: summarize_estimator(dims, of_key) for key, of_key in moments.items()
      },
  )
