"""Tests for gan_theory.distributions: geometry, sampling and the exact log-density."""

import itertools
import math
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats
from absl.testing import absltest, parameterized

from gan_theory import distributions


def _per_component(x, modes, std):
  """log N(x | modes[k], std^2 I) per component in float64 numpy, ``[n, K]``."""
  x = np.asarray(x, np.float64)
  modes = np.asarray(modes, np.float64)
  dim = modes.shape[1]
  return (
      -0.5 * np.sum((x[:, None, :] - modes[None]) ** 2, axis=-1) / std**2
      - 0.5 * dim * np.log(2 * np.pi * std**2)
  )


def _reference_log_prob(x, modes, std):
  """The mixture's log-density in float64 numpy, with a max-shifted logsumexp."""
  log_normal = _per_component(x, modes, std)
  shift = np.max(log_normal, axis=-1, keepdims=True)
  return shift[:, 0] + np.log(np.mean(np.exp(log_normal - shift), axis=-1))


# One sample size for every statistical test: the sampler compiles once per shape.
N_SAMPLES = 20_000


def _nearest_mode(samples, modes):
  samples = np.asarray(samples, np.float64)
  modes = np.asarray(modes, np.float64)
  return np.argmin(np.sum((samples[:, None, :] - modes[None]) ** 2, axis=-1), axis=-1)


class GeometryTest(parameterized.TestCase):

  def test_ring_defaults(self):
    target = distributions.ring()
    chex.assert_shape(target.modes, (8, 2))
    self.assertEqual(target.num_modes, 8)
    self.assertEqual(target.dim, 2)
    self.assertEqual(target.std, 0.02)
    angles = 2 * np.pi * np.arange(8) / 8
    expected = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    np.testing.assert_allclose(target.modes, expected, atol=1e-6)

  def test_grid_defaults(self):
    target = distributions.grid()
    chex.assert_shape(target.modes, (25, 2))
    self.assertEqual(target.std, 0.05)
    # Order-free: the set of modes is exactly {-4, -2, 0, 2, 4}^2.
    expected = set(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2))
    self.assertEqual({tuple(float(c) for c in m) for m in np.asarray(target.modes)}, expected)

  def test_ring_is_configurable(self):
    target = distributions.ring(num_modes=5, radius=3.0, std=0.1)
    chex.assert_shape(target.modes, (5, 2))
    self.assertEqual(target.std, 0.1)
    np.testing.assert_allclose(np.linalg.norm(target.modes, axis=-1), 3.0, rtol=1e-6)
    # Evenly spaced: every neighbour is at chord length 2 r sin(pi / K).
    gaps = np.linalg.norm(target.modes - np.roll(target.modes, 1, axis=0), axis=-1)
    np.testing.assert_allclose(gaps, 2 * 3.0 * np.sin(np.pi / 5), rtol=1e-5)

  def test_grid_is_configurable(self):
    target = distributions.grid(num_per_side=3, spacing=1.5, std=0.1)
    self.assertEqual(target.std, 0.1)
    expected = set(itertools.product([-1.5, 0.0, 1.5], repeat=2))
    self.assertEqual({tuple(float(c) for c in m) for m in np.asarray(target.modes)}, expected)

  def test_line_is_the_theory_problems_target(self):
    target = distributions.line()
    self.assertEqual(target.dim, 1)
    x = np.linspace(-4.0, 4.0, 9, dtype=np.float32)[:, None]
    expected = np.log(0.5 * scipy.stats.norm.pdf(x[:, 0], -2, 0.5)
                      + 0.5 * scipy.stats.norm.pdf(x[:, 0], 2, 0.5))
    np.testing.assert_allclose(target.log_prob(x), expected, rtol=1e-5)
    with self.assertRaisesRegex(ValueError, "modes must name at least one mode"):
      distributions.line(modes=())

  @parameterized.parameters("ring", "grid", "line")
  def test_make_target_by_name(self, name):
    built = distributions.make_target(name)
    direct = distributions.TARGETS[name]()
    np.testing.assert_array_equal(built.modes, direct.modes)
    self.assertEqual(built.std, direct.std)
    # Keyword parameters are forwarded.
    self.assertEqual(distributions.make_target(name, std=0.3).std, 0.3)

  @parameterized.parameters(
      ("ring", "num_modes", 0),
      ("ring", "radius", -1.0),
      ("ring", "std", 0.0),
      ("grid", "num_per_side", 0),
      ("grid", "spacing", 0.0),
      ("grid", "std", float("nan")),  # NaN is not positive either.
  )
  def test_rejects_non_positive_parameters(self, name, param, value):
    with self.assertRaisesRegex(ValueError, f"{param}=.* must be positive"):
      distributions.make_target(name, **{param: value})

  def test_make_target_unknown_name_lists_valid_ones(self):
    valid = ", ".join(distributions.TARGETS)
    self.assertIn("ring", valid)
    with self.assertRaisesRegex(ValueError, re.escape(valid)):
      distributions.make_target("spiral")


class SampleTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_shape_and_determinism(self):
    target = distributions.grid()
    sample = self.variant(target.sample, static_argnums=1)
    x = sample(jax.random.key(0), N_SAMPLES)
    chex.assert_shape(x, (N_SAMPLES, 2))
    chex.assert_type(x, jnp.float32)
    chex.assert_tree_all_finite(x)
    chex.assert_trees_all_equal(x, sample(jax.random.key(0), N_SAMPLES))
    self.assertFalse(np.array_equal(x, sample(jax.random.key(1), N_SAMPLES)))

  @parameterized.named_parameters(
      ("ring", distributions.ring()),
      ("grid", distributions.grid()),
      ("ring5_wide", distributions.ring(num_modes=5, radius=3.0, std=0.1)),
  )
  def test_mode_counts_and_spread(self, target):
    n = N_SAMPLES
    x = target.sample(jax.random.key(1), n)
    k = target.num_modes
    # Modes are >= 35 std apart here, so the nearest mode is the drawn component.
    nearest = _nearest_mode(x, target.modes)
    counts = np.bincount(nearest, minlength=k)
    # Each count is Binomial(n, 1/K): standard error sqrt(n p (1 - p)).
    p = 1.0 / k
    np.testing.assert_array_less(np.abs(counts - n * p), 4 * math.sqrt(n * p * (1 - p)))
    residual = np.asarray(x, np.float64) - np.asarray(target.modes, np.float64)[nearest]
    for axis in range(2):
      r = residual[:, axis]
      # Mean 0 within 4 SE = 4 std / sqrt(n).
      self.assertLess(abs(np.mean(r)), 4 * target.std / math.sqrt(n))
      # Per-coordinate variance std^2, within 4 SE of the mean of r^2 (SE from the sample).
      se = np.std(r**2, ddof=1) / math.sqrt(n)
      self.assertLess(abs(np.mean(r**2) - target.std**2), 4 * se)

  @parameterized.parameters("ring", "grid")
  def test_cross_entropy_of_samples_is_the_entropy(self, name):
    # Default std is narrow (modes >= 40 std apart): H = log K + log(2 pi e std^2) in 2-D.
    target = distributions.make_target(name)
    n = N_SAMPLES
    neg_log_p = -np.asarray(target.log_prob(target.sample(jax.random.key(2), n)), np.float64)
    entropy = math.log(target.num_modes) + math.log(2 * math.pi * math.e * target.std**2)
    # -log p = const + r^2 / (2 std^2) ~ const + Exp(1), so the SE is about 1/sqrt(n);
    # take it from the sample. A wrong sampling std by 10% shifts the mean by ~0.2 = 30 SE.
    se = np.std(neg_log_p, ddof=1) / math.sqrt(n)
    self.assertLess(abs(np.mean(neg_log_p) - entropy), 4 * se)


class LogProbTest(chex.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      # Boxes reach 8 std beyond the outermost modes: truncation error < 1e-14.
      ("ring", distributions.ring(std=0.25), 2.0 + 8 * 0.25),
      ("grid", distributions.grid(std=0.3), 4.0 + 8 * 0.3),
  )
  def test_normalizes(self, target, half_width):
    # Riemann sum with spacing h = std / 2. By Poisson summation the error of an
    # equispaced sum of a Gaussian is about 2 exp(-2 pi^2 std^2 / h^2) = 2 exp(-8 pi^2)
    # ~ 1e-34 per axis, so only float32 rounding in log_prob (a relative ~1e-6) remains;
    # 1e-4 is far above both and far below any normalisation bug (a factor K, 2 pi, ...).
    h = target.std / 2
    axis = np.arange(-half_width, half_width + h / 2, h)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    points = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=-1), jnp.float32)
    density = np.exp(np.asarray(target.log_prob(points), np.float64))
    np.testing.assert_allclose(np.sum(density) * h * h, 1.0, atol=1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      ("ring", distributions.ring()),
      ("grid", distributions.grid()),
      ("ring5_wide", distributions.ring(num_modes=5, radius=3.0, std=0.4)),
  )
  def test_matches_float64_reference(self, target):
    modes = np.asarray(target.modes)
    near = modes[:3] + target.std * np.array([[0.0, 0.0], [0.5, -1.0], [2.0, 1.5]])
    midway = 0.5 * (modes[:1] + modes[1:2])
    rng = np.random.default_rng(0)
    scattered = rng.uniform(-5.0, 5.0, size=(5, 2))
    far = np.array([[100.0, 100.0], [-50.0, 30.0], [0.0, -1e3]])
    x = np.concatenate([near, midway, scattered, far]).astype(np.float32)
    expected = _reference_log_prob(x, target.modes, target.std)
    # A naive log(sum(exp(.))) underflows to -inf at the far points, even in float64.
    with np.errstate(divide="ignore"):
      naive = np.log(np.mean(np.exp(_per_component(x, target.modes, target.std)), axis=-1))
    self.assertTrue(np.all(np.isneginf(naive[-3:])))
    # Batched as [3, 4, 2]: log_prob maps [..., d] to [...].
    value = self.variant(target.log_prob)(jnp.asarray(x).reshape(3, 4, 2))
    chex.assert_shape(value, (3, 4))
    chex.assert_tree_all_finite(value)
    # float32 rounding: relative ~1e-6 of |log p| (up to 1e9 far away), plus ~1e-5 absolute.
    np.testing.assert_allclose(value.ravel(), expected, rtol=1e-5, atol=1e-4)



class BlobTest(chex.TestCase):

  def test_uncorrelated_is_the_three_by_three_unit_grid(self):
    blob = distributions.blob()
    expected = distributions.grid(num_per_side=3, spacing=1.0, std=math.sqrt(0.03))
    self.assertIsNone(blob.tril)
    self.assertEqual(blob.std, expected.std)
    chex.assert_trees_all_equal(blob.modes, expected.modes)

  def test_correlated_samples_have_each_modes_correlation(self):
    # The same factors with std 0.03: modes 33 std apart, so the nearest mode is the drawn
    # component and its residuals are the component's noise.
    blob = distributions.blob(correlated=True).replace(std=0.03)
    x = np.asarray(blob.sample(jax.random.key(4), N_SAMPLES), np.float64)
    modes = np.asarray(blob.modes, np.float64)
    nearest = _nearest_mode(x, modes)
    for k, expected in enumerate(distributions.BLOB_CORRELATIONS):
      residual = (x[nearest == k] - modes[k]) / blob.std
      m = len(residual)
      # Unit variances (SE sqrt(2 / m)) and the correlation (SE (1 - rho^2) / sqrt(m)).
      np.testing.assert_array_less(np.abs(np.var(residual, axis=0) - 1), 4 * math.sqrt(2 / m))
      rho = np.corrcoef(residual.T)[0, 1]
      self.assertLess(abs(rho - expected), 4 * (1 - expected**2) / math.sqrt(m), k)

  @chex.variants(with_jit=True, without_jit=True)
  def test_correlated_log_prob_matches_float64_reference(self):
    blob = distributions.blob(correlated=True)
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-1.5, 1.5, size=(9, 2)), [[30.0, -40.0], [1e3, 1e3]]])
    x = x.astype(np.float32)
    rho = np.asarray(distributions.BLOB_CORRELATIONS)
    per_component = np.stack([
        scipy.stats.multivariate_normal(mode, 0.03 * np.array([[1, r], [r, 1]])).logpdf(x)
        for mode, r in zip(np.asarray(blob.modes, np.float64), rho)
    ], axis=-1)
    expected = scipy.special.logsumexp(per_component, axis=-1) - math.log(9)
    value = self.variant(blob.log_prob)(jnp.asarray(x))
    chex.assert_tree_all_finite(value)
    # float32 rounding: relative ~1e-6 of |log p| (up to 6e7 far away), plus ~1e-5 absolute.
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-4)

  def test_correlated_normalizes(self):
    # As LogProbTest.test_normalizes, spacing std / 2 = 0.087. Along the narrowest axis
    # (std 0.063) the Poisson-summation error is about exp(-2 pi^2 x 0.008 / h^2) < 1e-8.
    blob = distributions.blob(correlated=True)
    h, half_width = blob.std / 2, 1.0 + 8 * blob.std
    axis = np.arange(-half_width, half_width + h / 2, h)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    points = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=-1), jnp.float32)
    density = np.exp(np.asarray(blob.log_prob(points), np.float64))
    np.testing.assert_allclose(np.sum(density) * h * h, 1.0, atol=1e-4)


class StudyModelsTest(chex.TestCase, parameterized.TestCase):
  """The likelihood-vs-samples study's models: the lecture's memorizer p1 and noisy p2."""

  @parameterized.parameters(2, 100)
  def test_memorizer_log_density(self, dim):
    # p1(x) = 1/n sum_i N(x | x_i, eps I), a mixture centred on its training points.
    rng = np.random.default_rng(dim)
    train = rng.normal(size=(50, dim)).astype(np.float32)
    eps = 0.01
    memorizer = distributions.GaussianMixture(jnp.asarray(train), math.sqrt(eps))
    held_out = rng.normal(size=(7, dim)).astype(np.float32)
    x = np.concatenate([held_out, train[:3] + 0.05]).astype(np.float32)
    direct = _reference_log_prob(x, train, math.sqrt(eps))
    if dim == 100:
      # The direct sum underflows: far from every x_i, exp(-|x - x_i|^2 / (2 eps)) is 0.
      with np.errstate(divide="ignore"):
        naive = np.log(np.mean(np.exp(_per_component(held_out, train, math.sqrt(eps))), -1))
      self.assertTrue(np.all(np.isneginf(naive)))
    value = memorizer.log_prob(jnp.asarray(x))
    chex.assert_tree_all_finite(value)
    np.testing.assert_allclose(value, direct, rtol=1e-5, atol=1e-3)

  @chex.variants(with_jit=True, without_jit=True)
  def test_blend_log_density(self):
    # p2(x) = 0.01 p(x) + 0.99 q(x), directly in float64, and never below log p - log 100.
    p = distributions.ring()
    q = distributions.moment_matched_gaussian(p)
    blend = distributions.Blend(p, q, 0.01)
    x = np.array([[2.0, 0.0], [2.01, -0.02], [0.0, 0.0], [1.0, 1.0], [300.0, -400.0]], np.float32)
    log_p = _reference_log_prob(x, p.modes, p.std)
    log_q = _reference_log_prob(x, q.modes, q.std)
    with np.errstate(divide="ignore"):
      direct = np.log(0.01 * np.exp(log_p) + 0.99 * np.exp(log_q))
    value = np.asarray(self.variant(blend.log_prob)(jnp.asarray(x)))
    np.testing.assert_allclose(value[:4], direct[:4], rtol=1e-5)
    # Far away both densities underflow in float64; the logaddexp does not.
    self.assertTrue(np.isneginf(direct[4]))
    np.testing.assert_allclose(value[4], np.logaddexp(np.log(0.01) + log_p[4],
                                                      np.log(0.99) + log_q[4]), rtol=1e-5)
    np.testing.assert_array_less(log_p - math.log(100) - 1e-4, value)

  def test_moment_matched_gaussian(self):
    p = distributions.grid()
    q = distributions.moment_matched_gaussian(p)
    samples = np.asarray(p.sample(jax.random.key(0), N_SAMPLES), np.float64)
    np.testing.assert_allclose(q.modes[0], [0.0, 0.0], atol=1e-6)
    # The grid's per-coordinate variance: 0.05^2 + mean of {-4, -2, 0, 2, 4}^2 = 8.0025.
    self.assertAlmostEqual(q.std**2, 8.0025, places=4)
    # The estimate is the mean over samples of |x - mean|^2 / 2: its SE from those terms.
    terms = np.sum((samples - samples.mean(axis=0)) ** 2, axis=1) / 2
    se = terms.std(ddof=1) / math.sqrt(N_SAMPLES)
    self.assertLess(abs(terms.mean() - q.std**2), 4 * se)

  def test_blend_samples_in_proportion(self):
    p = distributions.ring()
    blend = distributions.Blend(p, distributions.moment_matched_gaussian(p), 0.2)
    samples = np.asarray(blend.sample(jax.random.key(1), N_SAMPLES), np.float64)
    # Ring samples lie within 5 std of radius 2; the Gaussian's only rarely (~1.6%).
    radius = np.linalg.norm(samples, axis=1)
    on_ring = np.mean(np.abs(radius - 2.0) < 5 * 0.02)
    gaussian_mass = math.exp(-(1.9**2) / (2 * 2.0004)) - math.exp(-(2.1**2) / (2 * 2.0004))
    expected = 0.2 + 0.8 * gaussian_mass
    se = math.sqrt(expected * (1 - expected) / N_SAMPLES)
    self.assertLess(abs(on_ring - expected), 4 * se)

  def test_random_mixture(self):
    mixture = distributions.random_mixture(jax.random.key(2), 1000, 8, 2.0, 0.5)
    chex.assert_shape(mixture.modes, (8, 1000))
    self.assertAlmostEqual(float(np.std(mixture.modes)), 2.0, delta=4 * 2.0 / math.sqrt(16000))


if __name__ == "__main__":
  absltest.main()
