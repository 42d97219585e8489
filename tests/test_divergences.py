"""Tests for gan_theory.divergences: quadrature against closed forms."""

import math

import jax.numpy as jnp
import numpy as np
from absl.testing import absltest

from gan_theory import divergences
from gan_theory.distributions import GaussianMixture
from gan_theory.theory import Gaussian, gaussian_log_prob

QUADRATURE = divergences.trapezoid(-15.0, 15.0, 30_001)
DATA = GaussianMixture(modes=jnp.array([[-2.0], [2.0]]), std=0.5)
THETA0 = Gaussian(mean=jnp.float32(0.5), log_std=jnp.float32(math.log(1.5)))
# Quadrature sums 30,001 float32 terms of size at most ~1: their rounding errors add up
# like a random walk, to about sqrt(n) * eps = 2e-5. Allow five times that.
ATOL = 5 * math.sqrt(30_001) * float(np.finfo(np.float32).eps)

# A pair of Gaussians whose tails beyond [-8, 8] hold < 1e-9 of either.
PAIR_QUADRATURE = divergences.trapezoid(-8.0, 8.0, 16_001)
PAIR_P = Gaussian(mean=jnp.float32(0.0), log_std=jnp.float32(0.0))
PAIR_Q = Gaussian(mean=jnp.float32(0.5), log_std=jnp.float32(math.log(1.2)))


def gaussian_kl(mean_p, std_p, mean_q, std_q):
  return math.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5


class QuadratureTest(absltest.TestCase):

  def test_densities_integrate_to_one(self):
    points = QUADRATURE.points
    for log_density in (DATA.log_prob(points[:, None]), gaussian_log_prob(THETA0, points)):
      total = divergences.expectation(QUADRATURE, log_density, 1.0)
      self.assertAlmostEqual(float(total), 1.0, delta=ATOL)


class DivergencesTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.log_p = gaussian_log_prob(PAIR_P, PAIR_QUADRATURE.points)
    self.log_q = gaussian_log_prob(PAIR_Q, PAIR_QUADRATURE.points)

  def divergence(self, function):
    return float(function(PAIR_QUADRATURE, self.log_p, self.log_q))

  def test_kl_both_ways(self):
    self.assertAlmostEqual(self.divergence(divergences.kl_divergence),
                           gaussian_kl(0.0, 1.0, 0.5, 1.2), delta=ATOL)
    self.assertAlmostEqual(self.divergence(divergences.reverse_kl_divergence),
                           gaussian_kl(0.5, 1.2, 0.0, 1.0), delta=ATOL)

  def test_squared_hellinger(self):
    # Hellinger affinity of two Gaussians:
    # sqrt(2 s1 s2 / (s1^2 + s2^2)) exp(-d^2 / (4 (s1^2 + s2^2))).
    affinity = math.sqrt(2 * 1.2 / (1 + 1.44)) * math.exp(-0.25 / (4 * 2.44))
    self.assertAlmostEqual(self.divergence(divergences.squared_hellinger), 2 - 2 * affinity,
                           delta=ATOL)

  def test_pearson(self):
    # chi^2(p || q) = s2^2 / (s1 sqrt(2 s2^2 - s1^2)) exp(d^2 / (2 s2^2 - s1^2)) - 1.
    chi2 = 1.44 / math.sqrt(2 * 1.44 - 1) * math.exp(0.25 / (2 * 1.44 - 1)) - 1
    self.assertAlmostEqual(self.divergence(divergences.pearson_chi2), chi2, delta=ATOL)

  def test_jsd_is_symmetric_bounded_and_zero_on_itself(self):
    log_p = DATA.log_prob(QUADRATURE.points[:, None])
    log_q = gaussian_log_prob(THETA0, QUADRATURE.points)
    jsd = float(divergences.js_divergence(QUADRATURE, log_p, log_q))
    self.assertAlmostEqual(jsd, float(divergences.js_divergence(QUADRATURE, log_q, log_p)),
                           delta=ATOL)
    self.assertBetween(jsd, 0.01, math.log(2.0))
    self.assertAlmostEqual(float(divergences.js_divergence(QUADRATURE, log_p, log_p)), 0.0,
                           delta=ATOL)


if __name__ == "__main__":
  absltest.main()
