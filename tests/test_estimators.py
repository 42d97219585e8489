"""Tests for gan_theory.estimators: both gradient estimators are unbiased, with fixed seeds."""

import math

import chex
import jax
import jax.numpy as jnp
from absl.testing import absltest, parameterized

from gan_theory import estimators
from gan_theory.metrics import mean_and_stderr
from gan_theory.theory import Gaussian, gaussian_log_prob, gaussian_sample
from gan_theory.vae import (
    DiagonalGaussian,
    FullCovarianceGaussian,
    gaussian_log_prob as multivariate_log_prob,
    reparameterize,
)

NUM_SAMPLES = 100_000
PARAMS = Gaussian(mean=jnp.float32(0.7), log_std=jnp.float32(math.log(1.3)))


def square(x):
  return x**2


# E[x^2] = mean^2 + std^2, so its gradient is (2 mean, 2 std^2) in (mean, log_std).
EXACT = Gaussian(mean=2 * 0.7, log_std=2 * 1.3**2)


class EstimatorsTest(parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(("pathwise", "pathwise"), ("score_function", "score_function"))
  def test_unbiased_for_a_quadratic(self, estimator):
    noise = jax.random.normal(jax.random.key(0), (NUM_SAMPLES,))

    @self.variant
    def gradients(params):
      if estimator == "pathwise":
        return estimators.pathwise_gradients(square, gaussian_sample, params, noise)
      samples = gaussian_sample(params, noise)
      return estimators.score_function_gradients(square, gaussian_log_prob, params, samples)

    per_sample = gradients(PARAMS)
    chex.assert_tree_shape_prefix(per_sample, (NUM_SAMPLES,))
    chex.assert_tree_all_finite(per_sample)
    for name in Gaussian._fields:
      mean, stderr = mean_and_stderr(getattr(per_sample, name))
      self.assertLess(abs(float(mean) - getattr(EXACT, name)), 4 * float(stderr), name)

  def test_score_function_against_its_formula(self):
    # f(x) d/dmean log N(x | mean, std^2) = f(x) (x - mean) / std^2.
    samples = jnp.array([0.3, -1.2])
    per_sample = estimators.score_function_gradients(square, gaussian_log_prob, PARAMS, samples)
    std = 1.3
    expected_mean = samples**2 * (samples - 0.7) / std**2
    chex.assert_trees_all_close(per_sample.mean, expected_mean, rtol=1e-5)


def _multivariate_problem(covariance: str, dim: int = 3):
  """A Gaussian q (diagonal or full), and a symmetric A and centre c of a quadratic."""
  keys = jax.random.split(jax.random.key(1), 4)
  mean = jax.random.normal(keys[0], (dim,))
  if covariance == "diagonal":
    q = DiagonalGaussian(mean, 0.3 * jax.random.normal(keys[1], (dim,)))
  else:
    scale = jnp.tril(0.4 * jax.random.normal(keys[1], (dim, dim))) + jnp.eye(dim)
    q = FullCovarianceGaussian(mean, scale)
  factor = jax.random.normal(keys[2], (dim, dim))
  hessian = factor @ factor.T / dim + 0.5 * jnp.eye(dim)
  return q, hessian, jax.random.normal(keys[3], (dim,))


class MultivariateTest(parameterized.TestCase):
  """Both estimators of grad E_q[(z - c)^T A (z - c) / 2] against the closed form."""

  @parameterized.product(
      covariance=("diagonal", "full"), estimator=("pathwise", "score_function")
  )
  def test_unbiased(self, covariance, estimator):
    q, hessian, centre = _multivariate_problem(covariance)

    def quadratic(z):
      return 0.5 * (z - centre) @ hessian @ (z - centre)

    noise = jax.random.normal(jax.random.key(2), (NUM_SAMPLES, 3))
    if estimator == "pathwise":
      per_sample = estimators.pathwise_gradients(quadratic, reparameterize, q, noise)
    else:
      per_sample = estimators.score_function_gradients(
          quadratic, multivariate_log_prob, q, reparameterize(q, noise)
      )
    exact = estimators.quadratic_gradient(q, hessian, centre)
    chex.assert_tree_all_finite(per_sample)
    for name, values, expected in zip(q._fields, per_sample, exact):
      mean, stderr = mean_and_stderr(values)
      # The upper triangle of scale_tril is not read: both estimates are exactly 0 there.
      stderr = jnp.where(stderr > 0, stderr, 1e-12)
      self.assertTrue(bool(jnp.all(jnp.abs(mean - expected) < 4 * stderr)), name)

  def test_closed_form_against_autodiff_of_the_expectation(self):
    # E f = ((m - c)^T A (m - c) + tr(A L L^T)) / 2, differentiated by autodiff.
    for covariance in ("diagonal", "full"):
      q, hessian, centre = _multivariate_problem(covariance)

      def expectation(q):
        if isinstance(q, DiagonalGaussian):
          covariance_matrix = jnp.diag(jnp.exp(2 * q.log_std))
        else:
          covariance_matrix = jnp.tril(q.scale_tril) @ jnp.tril(q.scale_tril).T
        difference = q.mean - centre
        return 0.5 * (difference @ hessian @ difference + jnp.trace(hessian @ covariance_matrix))

      chex.assert_trees_all_close(
          estimators.quadratic_gradient(q, hessian, centre), jax.grad(expectation)(q),
          rtol=1e-5, atol=1e-6,
      )


if __name__ == "__main__":
  absltest.main()
