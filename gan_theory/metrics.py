"""Sample-quality metrics for mixtures of Gaussians, and summary statistics over seeds."""

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

__all__ = [
    "ModeStatistics",
    "binomial_interval",
    "concentration_curve",
    "gradient_shares",
    "mean_and_stderr",
    "mode_statistics",
    "power_law_exponent",
    "signal_to_noise",
    "signal_to_noise_floor",
]


class ModeStatistics(NamedTuple):
  """Mode coverage of a sample (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

  Attributes:
    modes: number of modes captured: a mode is captured when it is the nearest mode
      of at least one high-quality sample.
    high_quality: percentage of samples within ``threshold`` standard deviations
      (Euclidean distance) of their nearest mode.
    mode_kl: KL divergence of the histogram of high-quality samples over their nearest
      modes from the uniform histogram; 0 when all modes are equally covered, and
      ``log K`` (as for a single mode) when no sample is of high quality.
  """

  modes: jax.Array
  high_quality: jax.Array
  mode_kl: jax.Array


def mode_statistics(
    samples: jax.Array, modes: jax.Array, std: float, threshold: float = 3.0
) -> ModeStatistics:
  """Mode coverage of ``samples`` ``[n, d]`` for a mixture with ``modes`` ``[K, d]``.

  Args:
    samples: the samples to score.
    modes: the mixture's mode centres.
    std: the mixture's per-coordinate standard deviation.
    threshold: how many standard deviations from its nearest mode a high-quality
      sample may lie.

  Returns:
    The :class:`ModeStatistics` of the sample.
  """
  num_modes = modes.shape[0]
  squared_distance = jnp.sum((samples[:, None, :] - modes[None, :, :]) ** 2, axis=-1)
  nearest = jnp.argmin(squared_distance, axis=-1)
  is_high_quality = jnp.min(squared_distance, axis=-1) <= (threshold * std) ** 2
  counts = jnp.sum(jax.nn.one_hot(nearest, num_modes) * is_high_quality[:, None], axis=0)
  total = jnp.sum(counts)
  histogram = counts / jnp.maximum(total, 1.0)
  kl = jnp.sum(jnp.where(counts > 0, histogram * jnp.log(histogram * num_modes), 0.0))
  return ModeStatistics(
      modes=jnp.sum(counts > 0),
      high_quality=100.0 * jnp.mean(is_high_quality),
      mode_kl=jnp.where(total > 0, kl, math.log(num_modes)),
  )


# Jitted: reports call it on host arrays many times, where each eager op would compile alone.
@functools.partial(jax.jit, static_argnames="axis")
def mean_and_stderr(values: jax.Array, axis: int = 0) -> tuple[jax.Array, jax.Array]:
  """The mean of ``values`` along ``axis`` and its standard error, ``std / sqrt(n)``.

  NaNs (the metrics of diverged runs) are left out, so ``n`` counts the other values.
  The standard deviation uses ``n - 1`` degrees of freedom, so the standard error of a
  single value is NaN: one seed says nothing about the spread.
  """
  n = jnp.sum(~jnp.isnan(values), axis=axis)
  mean = jnp.nanmean(values, axis=axis)
  stderr = jnp.nanstd(values, axis=axis, ddof=1) / jnp.sqrt(n)
  return mean, jnp.where(n > 1, stderr, jnp.nan)


def signed_rank_p_value(differences: np.ndarray) -> float:
  """The two-sided p-value of Wilcoxon's signed-rank test that paired ``differences`` are
  centred on 0 (``scipy.stats.wilcoxon``, exact for up to 50 pairs without ties).

  Where a mean's standard error says little, it still does: the ranks ignore how far a
  heavy tail reaches. 8 differences of one sign give 2 / 2^8 = 0.0078. NaNs are left
  out; differences all 0 give 1.
  """
  differences = np.asarray(differences, np.float64)
  differences = differences[~np.isnan(differences)]
  if not np.any(differences):
    return 1.0
  return float(stats.wilcoxon(differences).pvalue)


def power_law_exponent(x: np.ndarray, y: np.ndarray) -> float:
  """The exponent ``b`` of ``y ~ c x^b``: the least-squares slope of ``log y`` on ``log x``.

  A Monte Carlo error that falls like ``1 / sqrt(n)`` has exponent -1/2 in ``n``. Fitted
  by ``numpy.polyfit`` in float64, on the host: its callers report concrete values.
  """
  log_x, log_y = (np.log(np.asarray(v, np.float64)) for v in (x, y))
  return float(np.polyfit(log_x, log_y, 1)[0])


def signal_to_noise(values: jax.Array, axis: int = 0) -> jax.Array:
  """``|mean| / std`` of ``values`` along ``axis`` (Rainforth et al. 2018, eq. 6).

  Of repeated gradient estimates: how far their mean stands out from their spread. The
  standard deviation uses ``n - 1`` degrees of freedom.
  """
  return jnp.abs(jnp.mean(values, axis=axis)) / jnp.std(values, axis=axis, ddof=1)


def signal_to_noise_floor(num_replicates: int) -> float:
  """What :func:`signal_to_noise` measures, on average, for values whose true mean is 0.

  The mean of ``M`` replicates is then ``N(0, std^2 / M)``, so ``|mean| / std`` averages
  ``sqrt(2 / (pi M))`` (to a relative ``O(1 / M)``, from the noise of the estimated std): a
  measured ratio below a few times this is noise.
  """
  return math.sqrt(2 / (math.pi * num_replicates))


def gradient_shares(
    discriminator_output: jax.Array, grad_norm: jax.Array, num_bins: int
) -> jax.Array:
  """The share of the total per-sample gradient norm from each bin of ``D(G(z))``.

  Args:
    discriminator_output: ``[n]`` ``D(G(z_i))`` in ``[0, 1]``.
    grad_norm: ``[n]`` the norm of each sample's gradient.
    num_bins: equal bins of ``[0, 1]``; ``D = 1`` falls in the last.

  Returns:
    ``[num_bins]`` shares that sum to 1.
  """
  bins = jnp.clip(jnp.floor(discriminator_output * num_bins).astype(jnp.int32), 0, num_bins - 1)
  per_bin = jnp.zeros(num_bins, grad_norm.dtype).at[bins].add(grad_norm)
  return per_bin / jnp.sum(grad_norm)


def concentration_curve(weights: jax.Array) -> jax.Array:
  """The share of the total of ``weights`` ``[n]`` held by the largest ``k``, for k = 1..n.

  A Lorenz curve read from the top: ``curve[k - 1]`` is the share of the ``k`` largest.
  Equal weights give ``k / n``; a cost that few samples dominate rises at once.
  """
  ordered = jnp.sort(weights)[::-1]
  return jnp.cumsum(ordered) / jnp.sum(ordered)


def binomial_interval(trials: int, probability: float, level: float = 0.95) -> tuple[int, int]:
  """The central interval of ``Binomial(trials, probability)`` holding at least ``level``.

  ``(low, high)``, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles
  (``scipy.stats.binom.interval``): ``P(S < low) < (1 - level) / 2`` and
  ``P(S > high) <= (1 - level) / 2``. A test of size ``probability`` rejects, over
  ``trials`` independent nulls, a number in it with chance at least ``level``.
  """
  low, high = stats.binom.interval(level, trials, probability)
  return int(low), int(high)
