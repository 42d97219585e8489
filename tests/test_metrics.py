"""Tests for gan_theory.metrics: mode coverage of mixture samples and seed statistics."""

import itertools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized
from scipy import stats

from gan_theory import distributions, metrics

# In 2-D, r^2 / std^2 ~ chi^2_2 = Exp(1/2), so P(r <= 3 std) = 1 - exp(-9/2).
P_HIGH_QUALITY = 1.0 - math.exp(-4.5)
# Drawn once per target (the sampler compiles per shape); its first 2500 are checked too.
N_SAMPLES = 20_000
# Hand-built cases all use this many samples, so mode_statistics compiles once per K.
N_HAND = 40


def _reference_mode_statistics(samples, modes, std, threshold=3.0):
  """mode_statistics written out in float64 numpy."""
  samples = np.asarray(samples, np.float64)
  modes = np.asarray(modes, np.float64)
  k = len(modes)
  distance = np.sqrt(np.sum((samples[:, None, :] - modes[None]) ** 2, axis=-1))
  nearest = np.argmin(distance, axis=-1)
  good = distance[np.arange(len(samples)), nearest] <= threshold * std
  counts = np.bincount(nearest[good], minlength=k)
  if counts.sum() == 0:
    kl = math.log(k)
  else:
    q = counts[counts > 0] / counts.sum()
    kl = float(np.sum(q * np.log(q * k)))
  return np.sum(counts > 0), 100.0 * np.mean(good), kl


class ModeStatisticsExactSamplesTest(chex.TestCase, parameterized.TestCase):

  # jit only: each (n, K) is a new shape, and the hand-built tests below cover both paths.
  @chex.variants(with_jit=True)
  @parameterized.product(name=("ring", "grid"), n=(2500, N_SAMPLES))
  def test_exact_samples(self, name, n):
    target = distributions.make_target(name)
    samples = target.sample(jax.random.key(0), N_SAMPLES)[:n]
    stats = self.variant(metrics.mode_statistics)(samples, target.modes, target.std)
    chex.assert_shape((stats.modes, stats.high_quality, stats.mode_kl), ((), (), ()))
    k = target.num_modes
    self.assertEqual(int(stats.modes), k)
    # high_quality is 100 x a Binomial(n, p) fraction: SE = 100 sqrt(p (1 - p) / n).
    se = 100.0 * math.sqrt(P_HIGH_QUALITY * (1 - P_HIGH_QUALITY) / n)
    self.assertLess(abs(float(stats.high_quality) - 100.0 * P_HIGH_QUALITY), 4 * se)
    # For a multinomial histogram of m counts, 2 m KL(hist || uniform) ~ chi^2_{K-1}
    # (mean K - 1, std sqrt(2 (K - 1))): bound at mean + 4 std.
    m = n * float(stats.high_quality) / 100.0
    self.assertGreaterEqual(float(stats.mode_kl), 0.0)
    self.assertLess(float(stats.mode_kl), (k - 1 + 4 * math.sqrt(2 * (k - 1))) / (2 * m))

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters("ring", "grid")
  def test_matches_float64_reference(self, name):
    # A mix that exercises every branch: exact samples (unequal counts), samples just
    # inside and outside the threshold, and samples far from every mode.
    target = distributions.make_target(name)
    std = target.std
    exact = np.asarray(target.sample(jax.random.key(1), N_SAMPLES))[:300]
    modes = np.asarray(target.modes)
    inside = modes[:3] + np.array([2.9 * std, 0.0])
    outside = modes[3:6] + np.array([0.0, 3.1 * std])
    far = np.array([[10.0, 10.0], [-9.0, 0.5]])
    samples = jnp.asarray(np.concatenate([exact, inside, outside, far]), jnp.float32)
    stats = self.variant(metrics.mode_statistics)(samples, target.modes, std)
    modes_ref, hq_ref, kl_ref = _reference_mode_statistics(samples, target.modes, std)
    self.assertEqual(int(stats.modes), modes_ref)
    np.testing.assert_allclose(stats.high_quality, hq_ref, rtol=1e-6)
    np.testing.assert_allclose(stats.mode_kl, kl_ref, rtol=1e-4, atol=1e-6)


class ModeStatisticsHandBuiltTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters("ring", "grid")
  def test_collapse_to_one_mode(self, name):
    target = distributions.make_target(name)
    # Within 1 std of mode 3: all high quality, one mode, KL = 1 log(1 K) = log K.
    noise = target.std * np.random.default_rng(0).uniform(-0.7, 0.7, size=(N_HAND, 2))
    samples = target.modes[3] + jnp.asarray(noise, jnp.float32)
    stats = self.variant(metrics.mode_statistics)(samples, target.modes, target.std)
    self.assertEqual(int(stats.modes), 1)
    np.testing.assert_allclose(stats.high_quality, 100.0, rtol=1e-6)
    np.testing.assert_allclose(stats.mode_kl, math.log(target.num_modes), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters("ring", "grid")
  def test_far_from_every_mode(self, name):
    target = distributions.make_target(name)
    noise = np.random.default_rng(0).normal(size=(N_HAND, 2))
    samples = jnp.asarray(np.array([30.0, -20.0]) + noise, jnp.float32)
    stats = self.variant(metrics.mode_statistics)(samples, target.modes, target.std)
    self.assertEqual(int(stats.modes), 0)
    self.assertEqual(float(stats.high_quality), 0.0)
    np.testing.assert_allclose(stats.mode_kl, math.log(target.num_modes), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_two_of_eight_modes(self):
    target = distributions.ring()
    samples = jnp.repeat(target.modes[:2], N_HAND // 2, axis=0)
    stats = self.variant(metrics.mode_statistics)(samples, target.modes, target.std)
    self.assertEqual(int(stats.modes), 2)
    np.testing.assert_allclose(stats.high_quality, 100.0, rtol=1e-6)
    # Histogram (1/2, 1/2, 0, ...): KL = 2 x 1/2 log(8 / 2) = log 4.
    np.testing.assert_allclose(stats.mode_kl, math.log(4.0), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_low_quality_samples_neither_capture_nor_count(self):
    target = distributions.ring()
    std = target.std
    radial = target.modes[1] / jnp.linalg.norm(target.modes[1])
    # 30 samples 1 std from mode 0, 10 samples 4 std from mode 1 (nearest mode 1, but
    # beyond the threshold): mode 1 is not captured and does not enter the histogram.
    samples = jnp.concatenate([
        jnp.tile(target.modes[0] + jnp.array([std, 0.0]), (30, 1)),
        jnp.tile(target.modes[1] + 4 * std * radial, (10, 1)),
    ])
    stats = self.variant(metrics.mode_statistics)(samples, target.modes, std)
    self.assertEqual(int(stats.modes), 1)
    np.testing.assert_allclose(stats.high_quality, 75.0, rtol=1e-6)
    np.testing.assert_allclose(stats.mode_kl, math.log(8.0), rtol=1e-5)
    # A 5-std threshold takes them in: two modes, covered by 30 and 10 samples.
    loose = self.variant(metrics.mode_statistics)(samples, target.modes, std, 5.0)
    self.assertEqual(int(loose.modes), 2)
    np.testing.assert_allclose(loose.high_quality, 100.0, rtol=1e-6)
    expected_kl = 0.75 * math.log(0.75 * 8) + 0.25 * math.log(0.25 * 8)
    np.testing.assert_allclose(loose.mode_kl, expected_kl, rtol=1e-5)


class MeanAndStderrTest(parameterized.TestCase):

  @parameterized.parameters(0, 1, -1)
  def test_matches_numpy(self, axis):
    values = np.random.default_rng(0).normal(size=(6, 4))
    mean, stderr = metrics.mean_and_stderr(jnp.asarray(values, jnp.float32), axis=axis)
    n = values.shape[axis]
    np.testing.assert_allclose(mean, np.mean(values, axis=axis), rtol=1e-5, atol=1e-6)
    expected = np.std(values, axis=axis, ddof=1) / math.sqrt(n)
    np.testing.assert_allclose(stderr, expected, rtol=1e-5)

  def test_nan_values_are_left_out(self):
    values = jnp.array([[1.0, jnp.nan], [3.0, 2.0], [jnp.nan, 4.0], [5.0, jnp.nan]])
    mean, stderr = metrics.mean_and_stderr(values)
    np.testing.assert_allclose(mean, [3.0, 3.0])
    np.testing.assert_allclose(stderr, [np.std([1, 3, 5], ddof=1) / np.sqrt(3),
                                        np.std([2, 4], ddof=1) / np.sqrt(2)], rtol=1e-6)
    mean, stderr = metrics.mean_and_stderr(jnp.array([jnp.nan, 2.0]))
    self.assertEqual(float(mean), 2.0)
    self.assertTrue(np.isnan(stderr))

  def test_single_value_has_nan_stderr(self):
    mean, stderr = metrics.mean_and_stderr(jnp.array([2.5]))
    np.testing.assert_allclose(mean, 2.5)
    self.assertTrue(np.isnan(stderr))
    mean, stderr = metrics.mean_and_stderr(jnp.array([[1.0, 2.0, 3.0]]), axis=0)
    np.testing.assert_allclose(mean, [1.0, 2.0, 3.0])
    chex.assert_shape(stderr, (3,))
    self.assertTrue(np.all(np.isnan(stderr)))



class SignedRankPValueTest(absltest.TestCase):

  def test_matches_the_exact_null_distribution(self):
    # Under the null every sign pattern of the ranks is equally likely: enumerate all 2^8.
    differences = np.array([0.3, -1.2, 2.5, 0.7, -0.1, 4.0, 1.1, -2.2])
    ranks = stats.rankdata(np.abs(differences))
    observed = np.sum(ranks[differences > 0])
    signs = np.array(list(itertools.product((0, 1), repeat=8)))
    statistics = signs @ ranks
    centre = np.sum(ranks) / 2
    p_value = np.mean(np.abs(statistics - centre) >= abs(observed - centre))
    self.assertAlmostEqual(metrics.signed_rank_p_value(differences), p_value, places=12)

  def test_one_sign_in_eight_pairs_however_far(self):
    for scale in (1e-4, 1.0, 1e6):
      self.assertAlmostEqual(metrics.signed_rank_p_value(scale * np.arange(1, 9)), 2 / 2**8)

  def test_nan_left_out_and_all_zero_is_one(self):
    self.assertAlmostEqual(metrics.signed_rank_p_value(np.array([np.nan, 1, 2, 3, 4])),
                           metrics.signed_rank_p_value(np.array([1, 2, 3, 4])))
    self.assertEqual(metrics.signed_rank_p_value(np.zeros(8)), 1.0)


class PowerLawExponentTest(absltest.TestCase):

  def test_recovers_the_exponent_of_a_power_law(self):
    n = jnp.array([10.0, 100.0, 1e3, 1e4, 1e5, 1e6])
    self.assertAlmostEqual(float(metrics.power_law_exponent(n, 3.0 / jnp.sqrt(n))), -0.5, places=5)
    self.assertAlmostEqual(float(metrics.power_law_exponent(n, 0.1 * n**1.5)), 1.5, places=4)

  def test_least_squares_slope_of_noisy_points(self):
    x = np.array([1.0, 2.0, 4.0, 8.0])
    y = np.array([1.0, 0.8, 0.45, 0.37])
    expected = np.polyfit(np.log(x), np.log(y), 1)[0]
    self.assertAlmostEqual(float(metrics.power_law_exponent(x, y)), expected, places=5)


class SignalToNoiseTest(absltest.TestCase):

  def test_matches_numpy(self):
    values = np.random.default_rng(0).normal(0.5, 2.0, size=(1000, 3))
    expected = np.abs(values.mean(axis=0)) / values.std(axis=0, ddof=1)
    np.testing.assert_allclose(metrics.signal_to_noise(jnp.asarray(values)), expected,
                               rtol=1e-5)

  def test_floor_is_what_zero_mean_values_measure(self):
    # 4,000 sets of M = 200 standard normal values: the mean of their measured ratios,
    # against the floor, within 4 standard errors of that mean (the O(1/M) term is 0.3 of one).
    values = jax.random.normal(jax.random.key(0), (200, 4000))
    ratios = metrics.signal_to_noise(values)
    mean, stderr = metrics.mean_and_stderr(ratios)
    self.assertLess(abs(float(mean) - metrics.signal_to_noise_floor(200)), 4 * float(stderr))

  def test_sign_does_not_matter(self):
    values = jnp.array([[-1.0, 2.0], [-3.0, 2.5], [-2.0, 1.5]])
    chex.assert_trees_all_close(metrics.signal_to_noise(values),
                                metrics.signal_to_noise(-values))


class GradientSharesTest(absltest.TestCase):

  def test_shares_by_bin(self):
    outputs = jnp.array([0.05, 0.05, 0.5, 0.95, 1.0])
    norms = jnp.array([1.0, 3.0, 2.0, 2.0, 2.0])
    shares = metrics.gradient_shares(outputs, norms, num_bins=10)
    expected = np.zeros(10)
    expected[[0, 5, 9]] = [0.4, 0.2, 0.4]  # D = 1 counts in the last bin.
    np.testing.assert_allclose(shares, expected, rtol=1e-6)

  def test_concentration_curve(self):
    np.testing.assert_allclose(metrics.concentration_curve(jnp.ones(4)), [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(
        metrics.concentration_curve(jnp.array([1.0, 6.0, 1.0, 2.0])), [0.6, 0.8, 0.9, 1.0],
        rtol=1e-6,
    )



class BinomialIntervalTest(parameterized.TestCase):

  @parameterized.parameters((10, 0.5), (200, 0.05), (1000, 0.05), (30, 0.9))
  def test_against_exact_sums(self, trials, probability):
    pmf = [math.comb(trials, k) * probability**k * (1 - probability) ** (trials - k)
           for k in range(trials + 1)]
    low, high = metrics.binomial_interval(trials, probability)
    # Each tail outside holds at most 2.5%; one more count would push it past.
    self.assertLessEqual(sum(pmf[:low]), 0.025 + 1e-12)
    self.assertGreater(sum(pmf[: low + 1]), 0.025)
    self.assertLessEqual(sum(pmf[high + 1:]), 0.025 + 1e-12)
    self.assertGreater(sum(pmf[high:]), 0.025)
    self.assertGreaterEqual(sum(pmf[low: high + 1]), 0.95)

  def test_known_value(self):
    # Binomial(10, 1/2): P(S <= 1) = 11/1024 <= 0.025 < P(S <= 2) = 56/1024.
    self.assertEqual(metrics.binomial_interval(10, 0.5), (2, 8))

  def test_a_tail_of_exactly_the_bound_stays_outside(self):
    # Binomial(1, 0.05): P(S > 0) = 0.05 = (1 - 0.9) / 2, so high = 0 (float64 sums of pmf
    # terms, compared with the rounded bound, had given 1).
    self.assertEqual(metrics.binomial_interval(1, 0.05, level=0.9), (0, 0))


if __name__ == "__main__":
  absltest.main()
