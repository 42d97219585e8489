"""Tests for gan_theory.two_sample: the Gaussian kernel, the unbiased MMD^2, the median
heuristic, the MMD permutation test, the classifier two-sample test and sample quality."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl.testing import absltest, parameterized

from gan_theory import two_sample
from gan_theory.validation import ConfigError

NUM_REPLICATES = 64


def _reference_mmd2(x, y, bandwidth):
  """Gretton et al. (2012), eq. 3, as a direct double loop in float64."""
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  k = lambda a, b: math.exp(-np.sum((a - b) ** 2) / (2 * bandwidth**2))
  n, m = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
  return xx + yy - 2 * xy


def _population_mmd2(shift, dim, bandwidth):
  """MMD^2 between N(0, I) and N(shift, I) in ``dim`` dimensions with a Gaussian kernel.

  For z ~ N(mu, s^2 I_d), E exp(-|z|^2 / (2 h^2)) = (1 + s^2 / h^2)^(-d/2)
  exp(-|mu|^2 / (2 (h^2 + s^2))); differences of independent samples have s^2 = 2.
  """
  scale = (1 + 2 / bandwidth**2) ** (-dim / 2)
  return 2 * scale * (1 - math.exp(-(shift**2) / (2 * (bandwidth**2 + 2))))


# Replicate design: x ~ N(0, I_2) of size 50 against y ~ N(shift e_1, I_2) of size 40.
N, M, DIM, BANDWIDTH = 50, 40, 2, 1.0


@jax.jit
def _replicates(shift):
  """``NUM_REPLICATES`` independent (unbiased, biased) estimates, drawn under one vmap.

  One compiled program serves every shift (it is traced), which keeps the tests fast.
  """

  def one(key):
    # One draw split in two: independent x and y, and half the sampler to compile.
    xy = jax.random.normal(key, (N + M, DIM))
    x, y = xy[:N], xy[N:].at[:, 0].add(shift)
    # The V-statistic keeps the diagonal k(x_i, x_i) = 1: biased upwards.
    biased = (
        jnp.mean(two_sample.gaussian_kernel(x, x, BANDWIDTH))
        + jnp.mean(two_sample.gaussian_kernel(y, y, BANDWIDTH))
        - 2 * jnp.mean(two_sample.gaussian_kernel(x, y, BANDWIDTH))
    )
    return two_sample.mmd2_unbiased(x, y, BANDWIDTH), biased

  keys = jax.random.split(jax.random.key(7), NUM_REPLICATES)
  return jax.vmap(one)(keys)


# Fixed inputs for the exact comparisons, one pair of shapes throughout (each new shape
# costs a compilation); numpy keeps the jax sampler out of it.
_RNG = np.random.default_rng(0)
X = jnp.asarray(_RNG.normal(size=(40, 3)), jnp.float32)
Y = jnp.asarray(0.8 * _RNG.normal(size=(30, 3)) + 0.3, jnp.float32)


class GaussianKernelTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(0.3, 1.0, 2.5)
  def test_matches_direct_formula(self, bandwidth):
    k = self.variant(two_sample.gaussian_kernel)(X, Y, bandwidth)
    chex.assert_shape(k, (40, 30))
    diff = np.asarray(X, np.float64)[:, None, :] - np.asarray(Y, np.float64)[None, :, :]
    expected = np.exp(-np.sum(diff**2, axis=-1) / (2 * bandwidth**2))
    # float32: the |x|^2 + |y|^2 - 2 x.y form loses ~eps |x|^2 ~ 1e-6 in the distance.
    np.testing.assert_allclose(k, expected, rtol=1e-5, atol=1e-6)

  def test_self_kernel_has_unit_diagonal_and_is_symmetric(self):
    k = two_sample.gaussian_kernel(X, X, 0.8)
    # Clipping at 0 keeps rounding from pushing exp() above 1.
    np.testing.assert_allclose(jnp.diag(k), 1.0, rtol=1e-6)
    self.assertLessEqual(float(jnp.max(k)), 1.0)
    np.testing.assert_allclose(k, k.T, rtol=1e-6)


class MMDTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters((0.0, 0.5), (0.0, 1.5), (1.0, 1.0))
  def test_matches_double_loop(self, shift, bandwidth):
    x, y = X, Y + shift
    value = self.variant(two_sample.mmd2_unbiased)(x, y, bandwidth)
    chex.assert_shape(value, ())
    # float32 precision: each mean of kernel values in [0, 1] carries a rounding error
    # of order 1e-6, while dropping the diagonal or normalising by n^2 instead of
    # n (n - 1) changes the value by ~1/n = 0.025.
    np.testing.assert_allclose(value, _reference_mmd2(x, y, bandwidth), rtol=1e-4, atol=2e-5)

  @parameterized.parameters(0.0, 0.5, 1.0)
  def test_unbiased(self, shift):
    values, biased = (np.asarray(v, np.float64) for v in _replicates(shift))
    # The replicates are independent: the SE of their mean is their std / sqrt(64).
    se = np.std(values, ddof=1) / math.sqrt(NUM_REPLICATES)
    target = _population_mmd2(shift, DIM, BANDWIDTH)
    self.assertLess(abs(np.mean(values) - target), 4 * se)
    # The check has power: the biased estimator, which keeps the diagonal, sits about
    # (1 - E k) (1/n + 1/m) = 2/3 (1/50 + 1/40) = 0.03 higher, many SE away.
    self.assertGreater(abs(np.mean(biased) - target), 4 * se)

  def test_negative_under_the_null(self):
    # Unbiased at MMD = 0, the estimate must be negative for some samples; a clipped or
    # biased estimator would never be.
    values, _ = _replicates(0.0)
    self.assertGreater(int(np.sum(np.asarray(values) < 0)), 0)

  def test_clearly_positive_for_shifted_distributions(self):
    values, _ = _replicates(2.0)
    # Population MMD^2 = 2/3 (1 - exp(-4/6)) ~ 0.32: every replicate is above 0.
    self.assertGreater(float(np.min(values)), 0.0)
    self.assertGreater(float(np.mean(values)), 0.25)

  @chex.variants(with_jit=True, without_jit=True)
  def test_symmetric(self):
    mmd2 = self.variant(two_sample.mmd2_unbiased)
    np.testing.assert_allclose(mmd2(X, Y, 1.0), mmd2(Y, X, 1.0), rtol=1e-5, atol=1e-6)

  # Under jit only, as the sweep uses it: op-by-op vmap costs a compilation per primitive.
  @chex.variants(with_jit=True)
  def test_vmap_matches_loop(self):
    # Four (x, y) pairs of the shapes above, each with its own bandwidth.
    x, y = np.asarray(X), np.asarray(Y)
    xs = jnp.asarray(np.stack([x, -x, 2.0 * x, x[::-1] + 1.0]))
    ys = jnp.asarray(np.stack([y, y, -y, 0.5 * y]))
    bandwidths = jnp.array([0.5, 1.0, 2.0, 4.0])
    single = jax.jit(two_sample.mmd2_unbiased)
    batched = self.variant(jax.vmap(two_sample.mmd2_unbiased))(xs, ys, bandwidths)
    chex.assert_shape(batched, (4,))
    looped = jnp.stack([single(xs[i], ys[i], bandwidths[i]) for i in range(4)])
    chex.assert_trees_all_close(batched, looped, rtol=1e-5, atol=1e-6)
    # Shared samples, one bandwidth per entry (a bandwidth sweep).
    sweep = self.variant(jax.vmap(two_sample.mmd2_unbiased, in_axes=(None, None, 0)))(
        X, Y, bandwidths
    )
    looped = jnp.stack([single(X, Y, b) for b in bandwidths])
    chex.assert_trees_all_close(sweep, looped, rtol=1e-5, atol=1e-6)


class SelectionTest(parameterized.TestCase):

  @parameterized.parameters(np.float32, np.uint32)
  def test_kth_smallest_matches_sorting(self, dtype):
    rng = np.random.default_rng(1)
    # Rows with ties, zeros and the dtype's largest finite values.
    values = rng.integers(0, 50, size=(6, 101)).astype(dtype)
    values[0, :10] = np.finfo(dtype).max if dtype == np.float32 else np.iinfo(dtype).max
    values[1] = 0
    if dtype == np.float32:
      values[2] = rng.exponential(size=101) * 1e-30
    ks = np.array([0, 50, 100, 7, 3, 99])
    selected = two_sample._kth_smallest(jnp.asarray(values), jnp.asarray(ks))
    np.testing.assert_array_equal(selected, np.sort(values, axis=1)[np.arange(6), ks])

  def test_random_subsets_have_the_size_and_uniform_inclusion(self):
    num_subsets, size, total = 4000, 3, 10
    subsets = np.asarray(
        two_sample._random_subsets(jax.random.key(5), size, total, num_subsets)
    )
    np.testing.assert_array_equal(subsets.sum(axis=1), size)
    # Each index is in a subset with probability size / total.
    p = size / total
    se = math.sqrt(p * (1 - p) / num_subsets)
    np.testing.assert_array_less(np.abs(subsets.mean(axis=0) - p), 4 * se)
    # Every one of the C(10, 3) = 120 subsets turns up, about equally often.
    counts = np.unique(subsets, axis=0, return_counts=True)[1]
    self.assertLen(counts, 120)
    chi2 = np.sum((counts - num_subsets / 120) ** 2 / (num_subsets / 120))
    # chi^2 with 119 degrees of freedom: mean 119, sd sqrt(238) = 15.4.
    self.assertLess(abs(chi2 - 119), 4 * math.sqrt(238))


class MedianHeuristicTest(absltest.TestCase):

  def test_against_numpy(self):
    pooled = np.concatenate([np.asarray(X, np.float64), np.asarray(Y, np.float64)])
    distances = np.sqrt(np.sum((pooled[:, None] - pooled[None]) ** 2, axis=-1))
    expected = np.median(distances[~np.eye(len(pooled), dtype=bool)])
    np.testing.assert_allclose(two_sample.median_heuristic(X, Y), expected, rtol=1e-5)
    # 2,415 pairs above; an even number (10) and an odd one (15).
    for size in (5, 6):
      small = pooled[:size]
      distances = np.sqrt(np.sum((small[:, None] - small[None]) ** 2, axis=-1))
      expected = np.median(distances[np.tril_indices(size, -1)])
      heuristic = two_sample.median_heuristic(jnp.asarray(small[:3], jnp.float32),
                                              jnp.asarray(small[3:], jnp.float32))
      np.testing.assert_allclose(heuristic, expected, rtol=1e-5)


# The permutation tests' design: 60 points a side in 2 dimensions, 200 permutations.
TEST_N, NUM_PERMUTATIONS = 60, 200


@jax.jit
def _permutation_tests(shift, keys):
  """A permutation test per key: x ~ N(0, I), y ~ N(shift e_1, I), median bandwidth."""

  def one(key):
    data_key, test_key = jax.random.split(key)
    xy = jax.random.normal(data_key, (2 * TEST_N, 2))
    x, y = xy[:TEST_N], xy[TEST_N:].at[:, 0].add(shift)
    return two_sample.mmd_permutation_test(test_key, x, y, num_permutations=NUM_PERMUTATIONS)

  return jax.vmap(one)(keys)


class PermutationTestTest(absltest.TestCase):

  def test_every_statistic_is_the_mmd_of_its_relabelling(self):
    key = jax.random.key(3)
    result = jax.jit(
        lambda k: two_sample.mmd_permutation_test(k, X, Y, 0.9, num_permutations=5)
    )(key)
    np.testing.assert_allclose(result.statistic, _reference_mmd2(X, Y, 0.9), rtol=1e-4,
                               atol=2e-5)
    # The relabellings, drawn as the test draws them.
    pooled = np.concatenate([np.asarray(X), np.asarray(Y)])
    subsets = np.asarray(two_sample._random_subsets(key, len(X), len(pooled), 5))
    for permuted, first in zip(result.permuted, subsets):
      expected = _reference_mmd2(pooled[first], pooled[~first], 0.9)
      np.testing.assert_allclose(permuted, expected, rtol=1e-4, atol=2e-5)
    self.assertAlmostEqual(float(result.bandwidth), 0.9, places=6)

  def test_p_values_under_the_null_are_uniform(self):
    # 400 tests at a fixed seed under the null: p-values are uniform on the grid
    # {1/201, ..., 1}, with mean 1/2 and, at alpha = 0.05, a type-I error of 10/201.
    result = _permutation_tests(0.0, jax.random.split(jax.random.key(11), 400))
    p_values = np.asarray(result.p_value, np.float64)
    mean_se = math.sqrt(1 / 12 / len(p_values))
    self.assertLess(abs(p_values.mean() - 0.5), 4 * mean_se)
    size = 10 / (NUM_PERMUTATIONS + 1)
    rejections = np.sum(p_values <= 0.05)
    binomial_sd = math.sqrt(len(p_values) * size * (1 - size))
    self.assertLess(abs(rejections - len(p_values) * size), 4 * binomial_sd)

  def test_a_clear_shift_is_rejected(self):
    result = _permutation_tests(1.5, jax.random.split(jax.random.key(12), 4))
    # No relabelling reaches the observed statistic: the smallest possible p-value.
    np.testing.assert_allclose(result.p_value, 1 / (NUM_PERMUTATIONS + 1))
    chex.assert_shape(result.permuted, (4, NUM_PERMUTATIONS))



class BinomialPValueTest(parameterized.TestCase):

  @parameterized.parameters((40, 0), (40, 1), (40, 20), (40, 26), (40, 40), (500, 280))
  def test_against_the_exact_tail(self, trials, successes):
    exact = sum(math.comb(trials, i) for i in range(successes, trials + 1)) / 2**trials
    np.testing.assert_allclose(two_sample.binomial_p_value(successes, trials), exact, rtol=1e-4)

  def test_a_tail_beyond_float32_is_bounded_not_zero(self):
    # P(S >= 1000) = 2^-1000 for 1000 flips: far below float32's range.
    tiny = np.finfo(np.float32).tiny
    self.assertEqual(float(two_sample.binomial_p_value(1000, 1000)), tiny)
    self.assertGreater(float(two_sample.binomial_p_value(900, 1000)), 0.0)


# The classifier tests' design: 40 points a side (20 held out), a small, short-trained net.
C2ST_N = 40


@jax.jit
def _classifier_tests(shift, keys):
  """A classifier test per key: x ~ N(0, I_2), y ~ N(shift e_1, I_2)."""

  def one(key):
    data_key, test_key = jax.random.split(key)
    xy = jax.random.normal(data_key, (2 * C2ST_N, 2))
    x, y = xy[:C2ST_N], xy[C2ST_N:].at[:, 0].add(shift)
    return two_sample.classifier_two_sample_test(test_key, x, y, (16,), num_steps=100,
                                                 learning_rate=1e-2)

  return jax.vmap(one)(keys)


class ClassifierTestTest(absltest.TestCase):

  def test_null(self):
    # Under the null each held-out prediction is right with chance 1/2, whatever the
    # classifier learnt: the mean accuracy is 1/2 and the test is at most its nominal size.
    result = _classifier_tests(0.0, jax.random.split(jax.random.key(21), 300))
    accuracy = np.asarray(result.accuracy, np.float64)
    # Each accuracy over 40 held-out points has variance at most 1/(4 * 40).
    self.assertLess(abs(accuracy.mean() - 0.5), 4 * math.sqrt(1 / (4 * C2ST_N) / len(accuracy)))
    # At alpha = 0.05 the binomial tail's size is P(S >= 26) = 0.040 for 40 trials.
    size = sum(math.comb(C2ST_N, i) for i in range(26, C2ST_N + 1)) / 2**C2ST_N
    rejections = np.sum(np.asarray(result.p_value) <= 0.05)
    self.assertLess(rejections, len(accuracy) * size + 4 * math.sqrt(len(accuracy) * size))
    # Rejecting means at least 26 of 40 right, and that p-value is the tail.
    p_values = np.asarray(result.p_value)
    np.testing.assert_array_equal(p_values <= 0.05, np.round(accuracy * C2ST_N) >= 26)

  def test_a_clear_shift_is_found(self):
    result = _classifier_tests(4.0, jax.random.split(jax.random.key(22), 4))
    np.testing.assert_array_less(0.9, result.accuracy)
    np.testing.assert_array_less(result.p_value, 1e-5)

  def test_unequal_sizes_are_refused(self):
    with self.assertRaisesRegex(ValueError, "of one size"):
      two_sample.classifier_two_sample_test(jax.random.key(0), X, Y)


# The learned-kernel tests' design: 40 points a side (20 held out), a small, short-trained
# feature network.
LEARNED_N = 40


@functools.partial(jax.jit, static_argnames="num_steps")
def _learned_kernel_tests(shift, keys, num_steps=100):
  """A learned-kernel test per key: x ~ N(0, I_2), y ~ N(shift e_1, I_2)."""

  def one(key):
    data_key, test_key = jax.random.split(key)
    xy = jax.random.normal(data_key, (2 * LEARNED_N, 2))
    x, y = xy[:LEARNED_N], xy[LEARNED_N:].at[:, 0].add(shift)
    return two_sample.learned_kernel_test(test_key, x, y, (16,), feature_size=8,
                                          num_steps=num_steps, learning_rate=1e-2,
                                          num_permutations=100)

  return jax.vmap(one)(keys)


class LearnedKernelTestTest(absltest.TestCase):

  def test_power_criterion_against_float64(self):
    xy = jax.random.normal(jax.random.key(30), (12, 3))
    kernel = two_sample.gaussian_kernel(xy, xy, 1.3)
    k = np.asarray(kernel, np.float64)
    n = 6
    k_xx, k_yy, k_xy = k[:n, :n], k[n:, n:], k[:n, n:]
    mmd2 = ((k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
            + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1)) - 2 * k_xy.mean())
    h = k_xx + k_yy - k_xy - k_xy.T
    variance = 4 * (np.mean(h.mean(1) ** 2) - h.mean() ** 2)
    np.testing.assert_allclose(two_sample._power_criterion(kernel, n),
                               mmd2 / math.sqrt(variance + 1e-8), rtol=1e-4)

  def test_null(self):
    # The kernel never sees the held-out halves: whatever it learnt, the permutation test
    # keeps its level. Rejections at alpha = 0.05 (p-values on a grid of 1/101: size
    # 5/101) within 4 binomial standard errors.
    result = _learned_kernel_tests(0.0, jax.random.split(jax.random.key(31), 300))
    size, runs = 5 / 101, 300
    rejections = int(np.sum(np.asarray(result.p_value) <= 0.05))
    self.assertLess(abs(rejections - runs * size), 4 * math.sqrt(runs * size * (1 - size)))

  def test_training_raises_the_power_criterion(self):
    # On the training halves: the criterion after 100 steps above its value at the start,
    # by more than 4 standard errors of the mean change over 16 replicates.
    keys = jax.random.split(jax.random.key(32), 16)
    start = _learned_kernel_tests(1.0, keys, num_steps=0).criterion
    trained = _learned_kernel_tests(1.0, keys).criterion
    change = np.asarray(trained - start, np.float64)
    self.assertGreater(change.mean(), 4 * change.std(ddof=1) / math.sqrt(len(change)))

  def test_a_clear_shift_is_found(self):
    result = _learned_kernel_tests(3.0, jax.random.split(jax.random.key(33), 4))
    np.testing.assert_array_less(result.p_value, 0.02)
    chex.assert_tree_all_finite(result)

  def test_unequal_sizes_are_refused(self):
    with self.assertRaisesRegex(ValueError, "of one size"):
      two_sample.learned_kernel_test(jax.random.key(0), X, Y)


def _reference_quality(data, samples, k, within_radius=np.less_equal):
  """Precision, recall, density and coverage by direct loops in float64.

  ``within_radius(distance, radius)`` decides ties: closed balls by default, open ones
  (the ``prdc`` package's rule) with ``np.less``.
  """
  data, samples = np.asarray(data, np.float64), np.asarray(samples, np.float64)

  def radii(points):
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    return np.array([np.sort(np.delete(row, i))[k - 1] for i, row in enumerate(distances)])

  data_radii, sample_radii = radii(data), radii(samples)
  within = lambda a, b, r: within_radius(np.linalg.norm(a - b), r)
  in_data = np.array([[within(g, r, rr) for r, rr in zip(data, data_radii)] for g in samples])
  in_samples = np.array(
      [[within(r, g, gr) for g, gr in zip(samples, sample_radii)] for r in data]
  )
  return (in_data.any(1).mean(), in_samples.any(1).mean(), in_data.sum(1).mean() / k,
          in_data.any(0).mean())


def _integer_sets(kind):
  """``[60, 64]`` data and ``[50, 64]`` samples, integer-valued and full of tied distances.

  Binary pixels, or 0..16 like the 8x8 digits: a few prototypes, each pixel off by at
  most one.
  """
  rng = np.random.default_rng(3)
  if kind == "binary":
    draw = lambda n: rng.integers(0, 2, size=(n, 64))
  else:
    prototypes = rng.integers(0, 17, size=(3, 64))
    draw = lambda n: np.clip(
        prototypes[rng.integers(0, 3, size=n)] + rng.integers(-1, 2, size=(n, 64)), 0, 16
    )
  return np.float32(draw(60)), np.float32(draw(50))


SHIFTS = (0.0, 0.5, 3.0, 100.0)  # Exact in float32 for these integer values.


class SampleQualityTest(parameterized.TestCase):

  @parameterized.parameters(1, 3, 5)
  def test_matches_direct_loops(self, k):
    quality = two_sample.sample_quality(X, Y, k)
    np.testing.assert_allclose(quality, _reference_quality(X, Y, k), rtol=1e-6)

  def test_data_against_itself(self):
    # Every point is in its own ball (at distance 0).
    quality = two_sample.sample_quality(X, X)
    np.testing.assert_array_equal((quality.precision, quality.recall, quality.coverage), 1.0)
    self.assertGreaterEqual(quality.density, 1 / 3)

  @parameterized.product(kind=("binary", "digits"), k=(1, 3, 5))
  def test_exact_ties_are_inside_whatever_the_shift(self, kind, k):
    data, samples = _integer_sets(kind)
    expected = _reference_quality(data, samples, k)
    # Ties decide the answer here: open balls give another.
    self.assertNotEqual(expected, _reference_quality(data, samples, k, np.less))
    quality = jax.vmap(lambda shift: two_sample.sample_quality(data + shift, samples + shift, k))(
        jnp.array(SHIFTS)
    )
    for shifted in range(1, len(SHIFTS)):
      chex.assert_trees_all_equal(
          jax.tree.map(lambda q: q[shifted], quality), jax.tree.map(lambda q: q[0], quality)
      )
    np.testing.assert_allclose(jax.tree.map(lambda q: q[0], quality), expected, rtol=1e-6)

  @parameterized.parameters(*SHIFTS)
  def test_ties_by_hand(self, shift):
    # On a line with k = 1: data 0, 1, 3, 6 have radii 1, 1, 2, 3; samples 2, 4, 9, 10
    # have radii 2, 2, 1, 1. Sample 2 lies on the ball of 1 and in that of 3, 4 in those
    # of 3 and 6, 9 on that of 6, 10 in none: precision 3/4, density 5/4, coverage 3/4
    # (all balls but 0's). Data 0 lies on the ball of 2, 1 and 3 in it, 6 on that of 4:
    # recall 1. Open balls would give 1/2, 1/2, 3/4, 1/2.
    data = jnp.array([[0.0], [1.0], [3.0], [6.0]]) + shift
    samples = jnp.array([[2.0], [4.0], [9.0], [10.0]]) + shift
    quality = two_sample.sample_quality(data, samples, 1)
    np.testing.assert_array_equal(quality, [0.75, 1.0, 1.25, 0.75])
    self.assertEqual(_reference_quality(data, samples, 1), (0.75, 1.0, 1.25, 0.75))



class EvaluateTest(absltest.TestCase):
  """One compiled evaluation, its settings written once as a config section."""

  SETTINGS = dict(num_permutations=20, num_neighbours=2,
                  classifier=two_sample.ClassifierSettings((8,), 10, 1e-2),
                  learned_kernel=two_sample.LearnedKernelSettings((8,), 4, 10, 1e-2))
  CONFIG = ml_collections.ConfigDict(dict(two_sample=dict(
      num_samples=30, num_permutations=20, num_neighbours=2,
      classifier=dict(hidden_sizes=(8,), num_steps=10, learning_rate=1e-2),
      learned_kernel=dict(hidden_sizes=(8,), feature_size=4, num_steps=10, learning_rate=1e-2),
  )))

  def test_each_field_is_its_test_and_the_draws_come_from_the_key(self):
    x, y = X[:30], Y
    evaluate = jax.jit(functools.partial(two_sample.evaluate, **self.SETTINGS))
    first, again, other = (evaluate(jax.random.key(seed), x, y) for seed in (4, 4, 5))
    chex.assert_trees_all_equal(first, again)  # A pure function of its key.
    # What draws nothing is the statistic of the test alone, whatever the key.
    mmd = two_sample.mmd_permutation_test(jax.random.key(0), x, y, num_permutations=20)
    quality = two_sample.sample_quality(x, y, 2)
    chex.assert_trees_all_close(
        (first.mmd2, first.precision, first.recall, first.density, first.coverage),
        (mmd.statistic, *quality), rtol=1e-5, atol=1e-6,
    )
    # The relabellings, the classifier and the kernel come from the key.
    drawn = ("mmd_p_value", "classifier_accuracy", "classifier_p_value", "learned_kernel_mmd2",
             "learned_kernel_p_value")
    self.assertNotEqual([float(getattr(first, f)) for f in drawn],
                        [float(getattr(other, f)) for f in drawn])

  def test_make_evaluate_reads_a_config_section(self):
    config = self.CONFIG.copy_and_resolve_references()
    two_sample.validate(config)
    # The same program as evaluate with those settings: equal jaxprs, no need to run both.
    args = (jax.random.key(4), X[:30], Y)
    from_config = jax.make_jaxpr(two_sample.make_evaluate(config.two_sample))(*args)
    direct = jax.make_jaxpr(functools.partial(two_sample.evaluate, **self.SETTINGS))(*args)
    self.assertEqual(str(from_config), str(direct))
    config.two_sample.learned_kernel.num_steps = 11  # The comparison sees every setting.
    changed = jax.make_jaxpr(two_sample.make_evaluate(config.two_sample))(*args)
    self.assertNotEqual(str(changed), str(direct))
    config.two_sample.num_neighbours = 30
    with self.assertRaisesRegex(ConfigError, "num_neighbours=30 must be less than"):
      two_sample.validate(config)


if __name__ == "__main__":
  absltest.main()
