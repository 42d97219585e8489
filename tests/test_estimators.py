"""Tests for gan_theory.estimators: both gradient estimators are unbiased, with fixed seeds."""

import math

import chex
import jax
import jax.numpy as jnp
from absl.testing import absltest, parameterized

from gan_theory import estimators
from gan_theory.metrics import mean_and_stderr
from gan_theory.theory import Gaussian, gaussian_log_prob, gaussian_sample

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


if __name__ == "__main__":
  absltest.main()
