"""Two-sample statistics: likelihood-free comparisons of two sets of samples.

The MMD and its permutation test, the classifier two-sample test (the discriminator as a
learned statistic), the MMD test with a learned deep kernel (Liu et al. 2020), and
precision, recall, density and coverage of samples.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from scipy import stats

from gan_theory import networks
from gan_theory.validation import ConfigError, check_int, check_positive, check_positive_ints

__all__ = [
    "ClassifierSettings",
    "ClassifierTest",
    "Evaluation",
    "LearnedKernelSettings",
    "LearnedKernelTest",
    "PermutationTest",
    "SampleQuality",
    "binomial_p_value",
    "classifier_two_sample_test",
    "evaluate",
    "gaussian_kernel",
    "learned_kernel_test",
    "make_evaluate",
    "median_heuristic",
    "mmd2_unbiased",
    "mmd_permutation_test",
    "sample_quality",
    "validate",
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


def gaussian_kernel(
    x: jax.Array, y: jax.Array, bandwidth: float | jax.Array | Sequence[float]
) -> jax.Array:
  """The kernel matrix ``exp(-||x_i - y_j||^2 / (2 bandwidth^2))`` of ``[n, d]``, ``[m, d]``;
  for several bandwidths, the sum of their kernels (a mixture, Li et al. 2015), from one
  distance matrix."""
  squared_distance = _squared_distances(x, y)
  bandwidths = bandwidth if isinstance(bandwidth, (tuple, list)) else (bandwidth,)
  # A sum of separate exponentials, which XLA fuses into one pass over the distances.
  return sum(jnp.exp(-squared_distance / (2.0 * b**2)) for b in bandwidths)


def mmd2_unbiased(
    x: jax.Array, y: jax.Array, bandwidth: float | jax.Array | Sequence[float]
) -> jax.Array:
  """The unbiased estimator of MMD^2 with a Gaussian kernel (Gretton et al. 2012, eq. 3).

  ``1/(n(n-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j)
  - 2/(nm) sum_{i,j} k(x_i, y_j)``. Being unbiased, it can be negative when the two
  distributions are equal.

  Args:
    x: ``[n, d]`` samples of the first distribution, ``n >= 2``.
    y: ``[m, d]`` samples of the second distribution, ``m >= 2``.
    bandwidth: the kernel's length scale, or several: the kernel is then the sum of
      theirs (and the estimate the sum of each one's).

  Returns:
    The scalar estimate.
  """
  return _mmd2_of_blocks(
      gaussian_kernel(x, x, bandwidth), gaussian_kernel(y, y, bandwidth),
      gaussian_kernel(x, y, bandwidth),
  )


def _mmd2_of_blocks(k_xx: jax.Array, k_yy: jax.Array, k_xy: jax.Array) -> jax.Array:
  """The unbiased MMD^2 of the kernel matrix's blocks ``[n, n]``, ``[m, m]``, ``[n, m]``."""
  n, m = k_xx.shape[0], k_yy.shape[0]
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

  # Zeros like the values (not a constant), so that the carry's type is theirs under
  # shard_map.
  start = jnp.zeros_like(bits, shape=jnp.broadcast_shapes(bits.shape[:-1], jnp.shape(k)))
  kth = jax.lax.fori_loop(0, 8 * values.dtype.itemsize, set_bit_if_allowed, start)
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
  pooled = jnp.concatenate([x, y])
  bandwidth = median_heuristic(x, y) if bandwidth is None else jnp.asarray(bandwidth)
  statistic, p_value, permuted = _permutation_test(
      key, gaussian_kernel(pooled, pooled, bandwidth), x.shape[0], num_permutations
  )
  return PermutationTest(statistic, p_value, permuted, bandwidth)


def _permutation_test(
    key: jax.Array, kernel: jax.Array, n: int, num_permutations: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``(statistic, p_value, permuted)``: the unbiased MMD^2 of the pooled sample's kernel
  matrix ``[n + m, n + m]`` (its first ``n`` points the first sample) against random
  relabellings."""
  m = kernel.shape[0] - n
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
  return statistic, p_value, permuted


def binomial_p_value(successes: jax.Array, trials: int) -> jax.Array:
  """``P(S >= successes)`` for ``S ~ Binomial(trials, 1/2)``: the one-sided tail.

  Read from a table of every tail, made by ``scipy.stats.binom`` in float64 when traced
  (``trials`` is static): exact to float32 rounding, and no iterative special function
  (JAX's betainc loops, which shard_map cannot carry).

  Args:
    successes: integer counts in ``[0, trials]``, any shape.
    trials: the number of fair coin flips.

  Returns:
    The tails, shaped like ``successes``; a tail below float32's smallest normal number
    (``2^-126``, about 1.2e-38; ``trials >= 126`` can reach it) is given as that number, an
    upper bound, where float32 would round it to 0.
  """
  tails = stats.binom.sf(np.arange(trials + 1) - 1, trials, 0.5)  # P(S > s - 1) = P(S >= s)
  tails = np.maximum(tails, np.finfo(np.float32).tiny)
  return jnp.asarray(tails, jnp.float32)[jnp.asarray(successes, jnp.int32)]


def _standardized_halves(
    keys: jax.Array, x: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """``(train_x, train_y, test_x, test_y)``: each sample shuffled by its own of ``keys``
  ``[2]`` and halved, all standardized by the training halves' mean and deviation."""
  x = jax.random.permutation(keys[0], x)
  y = jax.random.permutation(keys[1], y)
  num_train = x.shape[0] // 2
  pooled_train = jnp.concatenate([x[:num_train], y[:num_train]])
  mean = jnp.mean(pooled_train, axis=0)
  # A floor for features constant in the training halves (a pixel always off).
  scale = jnp.maximum(jnp.std(pooled_train, axis=0), 1e-3)
  return tuple((v - mean) / scale for v in (x[:num_train], y[:num_train], x[num_train:],
                                            y[num_train:]))


def _adam(loss: Callable[[Any], jax.Array], params: Any, num_steps: int,
          learning_rate: float) -> Any:
  """``params`` after ``num_steps`` of full-batch Adam on ``loss``, under ``lax.scan``."""
  optimizer = optax.adam(learning_rate)

  def step(carry, _):
    params, opt_state = carry
    updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state)
    return (optax.apply_updates(params, updates), opt_state), None

  (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), length=num_steps)
  return params


class ClassifierTest(NamedTuple):
  """The outcome of a classifier two-sample test.

  Attributes:
    accuracy: the held-out accuracy of the classifier that tells the two samples apart.
    p_value: ``P(S >= correct)`` for ``S ~ Binomial(num_test, 1/2)``, the held-out count's
      law when the two distributions are equal and the classifier can only guess.
  """

  accuracy: jax.Array
  p_value: jax.Array


def classifier_two_sample_test(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    hidden_sizes: Sequence[int] = (64, 64),
    num_steps: int = 500,
    learning_rate: float = 1e-3,
) -> ClassifierTest:
  """The classifier two-sample test (Lopez-Paz and Oquab 2017), the discriminator as statistic.

  Each sample is shuffled and halved. A :class:`gan_theory.networks.Discriminator` learns
  to tell the first halves apart (full-batch Adam on the GAN's discriminator loss, inputs
  standardized by the training halves' statistics), and its accuracy on the second halves
  is the statistic. The classifier never sees the held-out points, so under the null each
  held-out prediction is right with chance 1/2: the count of correct ones is (at most as
  spread as) Binomial(num_test, 1/2), whose tail is the p-value.

  Args:
    key: a typed key for the shuffles and the classifier's initialization.
    x: ``[n, d]`` samples of the first distribution, labelled 1 (real).
    y: ``[n, d]`` samples of the second distribution, of the same size, labelled 0.
    hidden_sizes: the classifier's hidden layers (ReLU).
    num_steps: Adam steps on the training halves.
    learning_rate: Adam's.

  Returns:
    The :class:`ClassifierTest`.

  Raises:
    ValueError: if the two samples differ in size or have fewer than 2 points.
  """
  if x.shape[0] != y.shape[0] or x.shape[0] < 2:
    raise ValueError(
        f"classifier_two_sample_test needs two samples of one size >= 2, got {x.shape[0]}"
        f" and {y.shape[0]} points"
    )
  keys = jax.random.split(key, 3)
  train_x, train_y, test_x, test_y = _standardized_halves(keys[:2], x, y)
  classifier = networks.Discriminator(tuple(hidden_sizes))

  def loss(params):  # The cross-entropy of x (label 1) against y (label 0).
    x_logits, y_logits = classifier.apply(params, train_x), classifier.apply(params, train_y)
    return (jnp.mean(optax.sigmoid_binary_cross_entropy(x_logits, jnp.ones_like(x_logits)))
            + jnp.mean(optax.sigmoid_binary_cross_entropy(y_logits, jnp.zeros_like(y_logits))))

  params = _adam(loss, classifier.init(keys[2], train_x), num_steps, learning_rate)
  correct = jnp.sum(classifier.apply(params, test_x) > 0) + jnp.sum(
      classifier.apply(params, test_y) <= 0
  )
  num_test = test_x.shape[0] + test_y.shape[0]
  return ClassifierTest(correct / num_test, binomial_p_value(correct, num_test))


class LearnedKernelTest(NamedTuple):
  """The outcome of the MMD test with a learned deep kernel.

  Attributes:
    statistic: the unbiased MMD^2 of the held-out halves under the learned kernel.
    p_value: its permutation test's p-value.
    criterion: what training maximized, on the training halves at its end: MMD^2 over its
      standard deviation's estimate, whose size sets the test's power (Liu et al. 2020).
  """

  statistic: jax.Array
  p_value: jax.Array
  criterion: jax.Array


class _DeepKernel(NamedTuple):
  """The learned kernel's parameters: the feature network's and three scalars."""

  features: Any
  log_feature_bandwidth: jax.Array
  log_input_bandwidth: jax.Array
  epsilon_logit: jax.Array


def _deep_kernel(
    network: networks.MLP, params: _DeepKernel, a: jax.Array, b: jax.Array
) -> jax.Array:
  """``[(1 - eps) exp(-|f(a) - f(b)|^2 / 2 s_f^2) + eps] exp(-|a - b|^2 / 2 s_q^2)``, the
  kernel matrix of ``[n, d]``, ``[m, d]`` (Liu et al. 2020, eq. 6): the Gaussian kernel on
  the inputs keeps it characteristic, whatever the features learn."""
  feature_part = jnp.exp(-_squared_distances(network.apply(params.features, a),
                                             network.apply(params.features, b))
                         * (0.5 * jnp.exp(-2.0 * params.log_feature_bandwidth)))
  input_part = jnp.exp(-_squared_distances(a, b) * (0.5 * jnp.exp(-2.0 * params.log_input_bandwidth)))
  epsilon = jax.nn.sigmoid(params.epsilon_logit)
  return ((1.0 - epsilon) * feature_part + epsilon) * input_part


def _power_criterion(kernel: jax.Array, n: int) -> jax.Array:
  """MMD^2 over its standard deviation's estimate under the alternative, of a pooled kernel
  matrix ``[2n, 2n]`` of two samples of ``n`` (Liu et al. 2020, eq. 5; Sutherland et al.
  2017): with ``H_ij = k(x_i, x_j) + k(y_i, y_j) - k(x_i, y_j) - k(y_i, x_j)``, the variance
  is ``4 (mean_i (mean_j H_ij)^2 - (mean_ij H_ij)^2)``."""
  k_xx, k_yy, k_xy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
  h = k_xx + k_yy - k_xy - k_xy.T
  rows = jnp.mean(h, axis=1)
  # Non-negative but for rounding (Jensen); the floor keeps sqrt's gradient finite.
  variance = 4.0 * jnp.maximum(jnp.mean(rows**2) - jnp.mean(rows) ** 2, 0.0)
  return _mmd2_of_blocks(k_xx, k_yy, k_xy) / jnp.sqrt(variance + 1e-8)


def learned_kernel_test(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    hidden_sizes: Sequence[int] = (64, 64),
    feature_size: int = 32,
    num_steps: int = 500,
    learning_rate: float = 1e-3,
    num_permutations: int = 1000,
) -> LearnedKernelTest:
  """The MMD test with a deep kernel trained to maximize its power (Liu et al. 2020).

  Each sample is shuffled and halved. On the first halves, the kernel of
  :func:`_deep_kernel` (a ReLU MLP's ``feature_size`` features in a Gaussian kernel, mixed
  with a Gaussian kernel on the inputs; inputs standardized by the training halves'
  statistics) follows full-batch Adam on ``-criterion``, the estimate of the test's
  power; its bandwidths start at the median heuristic, ``eps`` at ``sigmoid(-4)``. The
  permutation test then runs on the second halves, which training never saw, so the test
  keeps its level whatever the kernel learned.

  Args:
    key: a typed key for the shuffles, the network's initialization and the permutations.
    x: ``[n, d]`` samples of the first distribution.
    y: ``[n, d]`` samples of the second, as many.
    hidden_sizes: the feature network's hidden layers.
    feature_size: its output features.
    num_steps: Adam steps on the training halves.
    learning_rate: Adam's.
    num_permutations: of the test on the held-out halves.

  Returns:
    The :class:`LearnedKernelTest`.

  Raises:
    ValueError: if the two samples differ in size or have fewer than 4 points (2 per
      half).
  """
  if x.shape[0] != y.shape[0] or x.shape[0] < 4:
    raise ValueError(
        f"learned_kernel_test needs two samples of one size >= 4, got {x.shape[0]}"
        f" and {y.shape[0]} points"
    )
  keys = jax.random.split(key, 4)
  train_x, train_y, test_x, test_y = _standardized_halves(keys[:2], x, y)
  train, test = jnp.concatenate([train_x, train_y]), jnp.concatenate([test_x, test_y])
  half = train_x.shape[0]

  network = networks.MLP(tuple(hidden_sizes), feature_size)
  features = network.init(keys[2], train)
  init = _DeepKernel(
      features=features,
      log_feature_bandwidth=jnp.log(median_heuristic(network.apply(features, train[:half]),
                                                     network.apply(features, train[half:]))),
      log_input_bandwidth=jnp.log(median_heuristic(train[:half], train[half:])),
      epsilon_logit=jnp.float32(-4.0),
  )

  def loss(params):
    return -_power_criterion(_deep_kernel(network, params, train, train), half)

  params = _adam(loss, init, num_steps, learning_rate)
  statistic, p_value, _ = _permutation_test(
      keys[3], _deep_kernel(network, params, test, test), test_x.shape[0],
      num_permutations,
  )
  return LearnedKernelTest(statistic, p_value, -loss(params))


class SampleQuality(NamedTuple):
  """Fidelity and diversity of samples against data, from k-nearest-neighbour balls.

  Each data point ``r_i`` gets the ball ``B(r_i, NND_k(r_i))`` reaching its k-th nearest
  other data point, and each sample ``g_j`` one reaching its k-th nearest other sample.

  Attributes:
    precision: the fraction of samples inside some data ball (Kynkaanniemi et al. 2019):
      how many samples look like data.
    recall: the fraction of data points inside some sample ball: how much of the data
      the samples cover.
    density: the mean number of data balls holding a sample, over samples, divided by k
      (Naeem et al. 2020): precision that counts how deep inside the data a sample is;
      about 1 when the two are the same distribution, and can exceed 1.
    coverage: the fraction of data balls holding at least one sample (Naeem et al.
      2020): recall from the data's balls alone, robust to outlying samples.
  """

  precision: jax.Array
  recall: jax.Array
  density: jax.Array
  coverage: jax.Array


def _pooled_squared_distances(points: jax.Array) -> jax.Array:
  """``sum_d (p_id - p_jd)^2`` for every pair of rows of ``[n, d]`` ``points``.

  Summed coordinate by coordinate, by one expression for every entry, rather than expanded
  as ``|a|^2 - 2 a.b + |b|^2``: exactly symmetric and free of cancellation, so exact for
  integer-valued points (while the sums stay below 2^24) and unchanged by a shift of all
  points that is itself exact. Blocks of rows bound the ``[rows, d, n]`` differences.
  """
  # Coordinates first, so that the sum over them runs along vectors of n entries (a sum
  # along a short last axis vectorises poorly on CPUs).
  coordinates = points.T
  return jax.lax.map(
      lambda point: jnp.sum((coordinates - point[:, None]) ** 2, axis=0), points, batch_size=64
  )


def _neighbour_radii(squared: jax.Array, num_neighbours: int) -> jax.Array:
  """Each point's squared distance to its k-th nearest other point, from its ``[n, n]``."""
  squared = jnp.where(jnp.eye(squared.shape[0], dtype=bool), jnp.inf, squared)
  return _kth_smallest(squared, jnp.array(num_neighbours - 1))


def sample_quality(data: jax.Array, samples: jax.Array, num_neighbours: int = 3) -> SampleQuality:
  """Precision, recall, density and coverage of ``samples`` against ``data``.

  A ball holds a point whose distance to the centre is at most the centre's k-th
  nearest-neighbour distance: closed balls, the rule of the Kynkaanniemi et al. reference
  (``distance <= radius`` in kynkaat/improved-precision-and-recall-metric). The ``prdc``
  package of Naeem et al. compares ``distance < radius`` instead. The two differ only on
  exact ties, which discrete data has many of; a closed ball holds the k neighbours that
  define it, an open one leaves out at least its k-th. Ties are decided exactly: radii
  and the distances compared with them are squared distances, entries of one matrix over
  both sets summed coordinate by coordinate; for integer-valued data every entry is
  exact, so a tie is one float and the metrics are unchanged when both sets are shifted
  by an exactly representable amount. Elementwise rather than a matrix product, the sums
  are also safe from the reduced-precision matmuls of accelerators (TF32), at a cost in
  high dimension: about 8 times the product's time at n = m = 1000, d = 1000 on a CPU.

  Args:
    data: ``[n, d]`` data points, ``n > num_neighbours``.
    samples: ``[m, d]`` model samples, ``m > num_neighbours``.
    num_neighbours: the k of the k-nearest-neighbour balls (3 in Kynkaanniemi et al.,
      5 in Naeem et al.).

  Returns:
    The :class:`SampleQuality`.
  """
  n = data.shape[0]
  squared = _pooled_squared_distances(jnp.concatenate([data, samples]))
  data_radii = _neighbour_radii(squared[:n, :n], num_neighbours)
  sample_radii = _neighbour_radii(squared[n:, n:], num_neighbours)
  sample_to_data = squared[n:, :n]
  in_data_ball = sample_to_data <= data_radii[None, :]
  in_sample_ball = sample_to_data <= sample_radii[:, None]
  return SampleQuality(
      precision=jnp.mean(jnp.any(in_data_ball, axis=1)),
      recall=jnp.mean(jnp.any(in_sample_ball, axis=0)),
      density=jnp.mean(jnp.sum(in_data_ball, axis=1)) / num_neighbours,
      coverage=jnp.mean(jnp.any(in_data_ball, axis=0)),
  )


class Evaluation(NamedTuple):
  """Every likelihood-free comparison of model samples with held-out data.

  Attributes:
    mmd2: the unbiased MMD^2 at the median-heuristic bandwidth.
    mmd_p_value: its permutation test's p-value.
    classifier_accuracy: the classifier two-sample test's held-out accuracy.
    classifier_p_value: its binomial p-value.
    learned_kernel_mmd2: the learned-kernel test's MMD^2 of the held-out halves.
    learned_kernel_p_value: its permutation test's p-value.
    precision, recall, density, coverage: as in :class:`SampleQuality`.
  """

  mmd2: jax.Array
  mmd_p_value: jax.Array
  classifier_accuracy: jax.Array
  classifier_p_value: jax.Array
  learned_kernel_mmd2: jax.Array
  learned_kernel_p_value: jax.Array
  precision: jax.Array
  recall: jax.Array
  density: jax.Array
  coverage: jax.Array


class ClassifierSettings(NamedTuple):
  """The classifier of :func:`classifier_two_sample_test`: its hidden layers and Adam."""

  hidden_sizes: Sequence[int] = (64, 64)
  num_steps: int = 500
  learning_rate: float = 1e-3


class LearnedKernelSettings(NamedTuple):
  """The feature network of :func:`learned_kernel_test` and its Adam."""

  hidden_sizes: Sequence[int] = (64, 64)
  feature_size: int = 32
  num_steps: int = 500
  learning_rate: float = 1e-3


def evaluate(
    key: jax.Array,
    data: jax.Array,
    samples: jax.Array,
    num_permutations: int = 1000,
    num_neighbours: int = 3,
    classifier: ClassifierSettings = ClassifierSettings(),
    learned_kernel: LearnedKernelSettings = LearnedKernelSettings(),
) -> Evaluation:
  """Compares ``samples`` with ``data`` by every test here: the :class:`Evaluation`.

  Args:
    key: a typed key for the permutations, the classifier and the learned kernel.
    data: ``[n, d]`` held-out data.
    samples: ``[n, d]`` model samples, as many.
    num_permutations: of the MMD tests.
    num_neighbours: the k of precision, recall, density and coverage.
    classifier: the classifier test's network and training.
    learned_kernel: the learned-kernel test's network and training.
  """
  mmd_key, classifier_key = jax.random.split(key)
  # Its own stream, so the other tests draw what they drew before it joined.
  learned_key = jax.random.fold_in(key, 2)
  mmd = mmd_permutation_test(mmd_key, data, samples, num_permutations=num_permutations)
  classified = classifier_two_sample_test(classifier_key, data, samples, *classifier)
  learned = learned_kernel_test(learned_key, data, samples, *learned_kernel,
                                num_permutations=num_permutations)
  quality = sample_quality(data, samples, num_neighbours)
  return Evaluation(
      mmd.statistic, mmd.p_value, classified.accuracy, classified.p_value, learned.statistic,
      learned.p_value, *quality
  )


def validate(config: ml_collections.ConfigDict, field: str = "two_sample") -> None:
  """Checks the evaluation settings ``config.<field>``, as :func:`make_evaluate` reads them.

  Raises:
    ConfigError: naming the first bad field and what it allows.
  """
  num_samples = check_int(config, f"{field}.num_samples", minimum=4)
  check_int(config, f"{field}.num_permutations")
  neighbours = check_int(config, f"{field}.num_neighbours")
  if neighbours >= num_samples:
    raise ConfigError(
        f"config.{field}.num_neighbours={neighbours} must be less than"
        f" config.{field}.num_samples={num_samples}"
    )
  for network in ("classifier", "learned_kernel"):
    check_positive_ints(config, f"{field}.{network}.hidden_sizes")
    check_int(config, f"{field}.{network}.num_steps")
    check_positive(config, f"{field}.{network}.learning_rate")
  check_int(config, f"{field}.learned_kernel.feature_size")


def make_evaluate(
    config: ml_collections.ConfigDict,
) -> Callable[[jax.Array, jax.Array, jax.Array], Evaluation]:
  """:func:`evaluate` with the settings of an evaluation config section.

  Args:
    config: the section: ``num_samples`` (unused here: the caller draws that many),
      ``num_permutations``, ``num_neighbours``, ``classifier.{hidden_sizes, num_steps,
      learning_rate}`` and ``learned_kernel.{hidden_sizes, feature_size, num_steps,
      learning_rate}``; :func:`validate` checks it.

  Returns:
    ``evaluate(key, data, samples)``.
  """
  settings = dict(
      num_permutations=config.num_permutations,
      num_neighbours=config.num_neighbours,
      classifier=ClassifierSettings(
          tuple(config.classifier.hidden_sizes), config.classifier.num_steps,
          config.classifier.learning_rate,
      ),
      learned_kernel=LearnedKernelSettings(
          tuple(config.learned_kernel.hidden_sizes), config.learned_kernel.feature_size,
          config.learned_kernel.num_steps, config.learned_kernel.learning_rate,
      ),
  )
  return lambda key, data, samples: evaluate(key, data, samples, **settings)
