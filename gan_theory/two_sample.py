"""Two-sample statistics: likelihood-free comparisons of two sets of samples."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "PermutationTest",
    "gaussian_kernel",
    "median_heuristic",
    "mmd2_unbiased",
    "mmd_permutation_test",
]


def _squared_distances(x: jax.Array, y: jax.Array) -> jax.Array:
  """``||x_i - y_j||^2`` of ``[n, d]``, ``[m, d]``, as ``|x|^2 + |y|^2 - 2 x.y``.

  One matmul and no ``[n, m, d]`` intermediate. Its cancellation error grows with
  ``|x|^2``, so both samples are first centred (distances are translation-invariant),
  the matmul runs at full float32 precision (GPUs otherwise use TF32, whose ~1e-3
  relative error exceeds mode-scale squared distances), and the result is clipped at 0
  against rounding.
  """
  centre = jnp.mean(y, axis=0)
  x, y = x - centre, y - centre
  cross = jnp.matmul(x, y.T, precision=jax.lax.Precision.HIGHEST)
  squared_distance = jnp.sum(x**2, axis=-1)[:, None] + jnp.sum(y**2, axis=-1)[None, :] - 2.0 * cross
  return jnp.maximum(squared_distance, 0.0)


def gaussian_kernel(x: jax.Array, y: jax.Array, bandwidth: float | jax.Array) -> jax.Array:
  """The kernel matrix ``exp(-||x_i - y_j||^2 / (2 bandwidth^2))`` of ``[n, d]``, ``[m, d]``."""
  return jnp.exp(-_squared_distances(x, y) / (2.0 * bandwidth**2))


def mmd2_unbiased(x: jax.Array, y: jax.Array, bandwidth: float | jax.Array) -> jax.Array:
  """The unbiased estimator of MMD^2 with a Gaussian kernel (Gretton et al. 2012, eq. 3).

  ``1/(n(n-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j)
  - 2/(nm) sum_{i,j} k(x_i, y_j)``. Being unbiased, it can be negative when the two
  distributions are equal.

  Args:
    x: ``[n, d]`` samples of the first distribution, ``n >= 2``.
    y: ``[m, d]`` samples of the second distribution, ``m >= 2``.
    bandwidth: the kernel's length scale.

  Returns:
    The scalar estimate.
  """
  n, m = x.shape[0], y.shape[0]
  k_xx = gaussian_kernel(x, x, bandwidth)
  k_yy = gaussian_kernel(y, y, bandwidth)
  k_xy = gaussian_kernel(x, y, bandwidth)
  within_x = (jnp.sum(k_xx) - jnp.trace(k_xx)) / (n * (n - 1))
  within_y = (jnp.sum(k_yy) - jnp.trace(k_yy)) / (m * (m - 1))
  return within_x + within_y - 2.0 * jnp.mean(k_xy)


def _kth_smallest(values: jax.Array, k: jax.Array) -> jax.Array:
  """The ``k``-th smallest (from 0) of the non-negative ``values`` along the last axis.

  Selection by bisection on the bit pattern, which orders non-negative floats and unsigned
  integers as their values: one counting pass per bit where a sort would take seconds
  (XLA's CPU sort is slow). ``k`` broadcasts against the leading axes.
  """
  unsigned = jnp.dtype(f"uint{8 * values.dtype.itemsize}")
  bits = jax.lax.bitcast_convert_type(values, unsigned)
  one = jnp.array(1, unsigned)

  # The largest t with #{bits < t} <= k is the k-th smallest; set its bits from the top.
  def set_bit_if_allowed(position, kth):
    candidate = kth | (one << (8 * values.dtype.itemsize - 1 - position).astype(unsigned))
    below = jnp.sum(bits < candidate[..., None], axis=-1)
    return jnp.where(below <= k, candidate, kth)

  kth = jax.lax.fori_loop(
      0, 8 * values.dtype.itemsize, set_bit_if_allowed,
      jnp.zeros(jnp.broadcast_shapes(bits.shape[:-1], jnp.shape(k)), unsigned),
  )
  return jax.lax.bitcast_convert_type(kth, values.dtype)


def median_heuristic(x: jax.Array, y: jax.Array) -> jax.Array:
  """The median distance between two distinct points of the pooled sample (Gretton et al.).

  A bandwidth on the scale of the data, for :func:`gaussian_kernel`.

  Args:
    x: ``[n, d]`` samples of the first distribution.
    y: ``[m, d]`` samples of the second distribution.

  Returns:
    The scalar median over the ``(n + m)(n + m - 1)`` ordered pairs of distinct points.
  """
  pooled = jnp.concatenate([x, y])
  # Each unordered pair once: the ordered pairs' median is theirs.
  below_diagonal = jnp.tril_indices(pooled.shape[0], -1)
  squared = _squared_distances(pooled, pooled)[below_diagonal]
  # The mean of the two middle order statistics (one and the same when the count is odd).
  middle = jnp.array([(squared.size - 1) // 2, squared.size // 2])
  return jnp.mean(jnp.sqrt(_kth_smallest(squared, middle)))


def _random_subsets(key: jax.Array, size: int, total: int, num_subsets: int) -> jax.Array:
  """``[num_subsets, total]`` indicators of uniformly random ``size``-subsets of ``total``.

  Each row marks the ``size`` smallest of ``total`` random 32-bit integers, found by
  :func:`_kth_smallest` rather than by a sort; ties at the threshold go to the lower index.
  """
  bits = jax.random.bits(key, (num_subsets, total), jnp.uint32)
  threshold = _kth_smallest(bits, jnp.array(size - 1))[:, None]
  below = bits < threshold
  at = bits == threshold
  room = size - jnp.sum(below, axis=1, keepdims=True)
  return below | (at & (jnp.cumsum(at, axis=1) <= room))


class PermutationTest(NamedTuple):
  """The outcome of a permutation two-sample test.

  Attributes:
    statistic: the statistic of the two samples as given.
    p_value: ``(1 + #{permuted >= statistic}) / (1 + num_permutations)``: the chance,
      were the two distributions equal, of a statistic at least this large; never 0.
    permuted: ``[num_permutations]`` the statistic of each random relabelling of the
      pooled sample into two of the original sizes: its null distribution.
    bandwidth: the kernel bandwidth used.
  """

  statistic: jax.Array
  p_value: jax.Array
  permuted: jax.Array
  bandwidth: jax.Array


def mmd_permutation_test(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    bandwidth: float | jax.Array | None = None,
    num_permutations: int = 1000,
) -> PermutationTest:
  """The MMD two-sample test: unbiased MMD^2 against its permutation distribution.

  The kernel matrix of the pooled sample is computed once. A relabelling is an indicator
  vector ``s`` of the first sample's points, and its statistic needs only ``s^T K s``,
  ``s^T K 1`` and ``s^T diag(K)``; the ``K s`` of every relabelling at once are one matrix
  product, ``[n + m, n + m] x [n + m, num_permutations + 1]``.

  Args:
    key: a typed key for the permutations.
    x: ``[n, d]`` samples of the first distribution, ``n >= 2``.
    y: ``[m, d]`` samples of the second distribution, ``m >= 2``.
    bandwidth: the Gaussian kernel's; None: :func:`median_heuristic` of the two samples.
    num_permutations: how many random relabellings.

  Returns:
    The :class:`PermutationTest`.
  """
  n, m = x.shape[0], y.shape[0]
  pooled = jnp.concatenate([x, y])
  bandwidth = median_heuristic(x, y) if bandwidth is None else jnp.asarray(bandwidth)
  kernel = gaussian_kernel(pooled, pooled, bandwidth)
  # Column 0 labels the samples as given; the others are random relabellings.
  given = jnp.arange(n + m) < n
  first = jnp.concatenate(
      [given[None], _random_subsets(key, n, n + m, num_permutations)]
  ).T.astype(kernel.dtype)
  kernel_first = jnp.matmul(kernel, first, precision=jax.lax.Precision.HIGHEST)
  within_first = jnp.sum(first * kernel_first, axis=0)  # s^T K s
  first_to_all = first.T @ jnp.sum(kernel, axis=1)  # s^T K 1
  total = jnp.sum(kernel)
  diagonal = jnp.diagonal(kernel)
  diagonal_first = first.T @ diagonal
  within_x = (within_first - diagonal_first) / (n * (n - 1))
  within_y = (total - 2.0 * first_to_all + within_first - (jnp.sum(diagonal) - diagonal_first)) / (
      m * (m - 1)
  )
  between = (first_to_all - within_first) / (n * m)
  statistics = within_x + within_y - 2.0 * between
  statistic, permuted = statistics[0], statistics[1:]
  p_value = (1.0 + jnp.sum(permuted >= statistic)) / (1.0 + num_permutations)
  return PermutationTest(statistic, p_value, permuted, bandwidth)
