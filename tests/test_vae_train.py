"""Tests for gan_theory.vae_train: VAEs and IWAEs trained on the digits, and their testing."""

import functools

import chex
import jax
import numpy as np
import pytest
from absl.testing import absltest

from gan_theory import engine, sharding, vae_train
from gan_theory.digits import binarized_digits
from gan_theory.validation import ConfigError
from tests.tiny import tiny_digits_config

DATA = binarized_digits()


@functools.cache
def _trained(k: int):
  """Seeds 0 and 1 trained on the tiny config's L_k by the engine: (params, metrics)."""
  outcome = engine.run(vae_train.make_trainer(tiny_digits_config(), k, DATA), np.arange(2))
  return outcome.final_state.params, outcome.history


class TrainTest(absltest.TestCase):

  def test_learns_and_reports_every_evaluation(self):
    for k in (1, 5):
      _, metrics = _trained(k)
      chex.assert_shape(metrics.validation_bound, (2, 3))  # seeds x evaluations
      chex.assert_tree_all_finite(metrics)
      # From a random decoder (about 64 log 2 = 44 nats) to something that has learned.
      np.testing.assert_array_less(metrics.validation_bound[:, 0] + 5,
                                   metrics.validation_bound[:, -1])

  def test_bounds_of_the_same_weights(self):
    # With k = 1 the bound is the ELBO; with k > 1 the log-mean-exp of the same weights is
    # at least their mean (Jensen), whatever the parameters.
    _, one = _trained(1)
    np.testing.assert_allclose(one.validation_bound, one.validation_elbo, rtol=1e-6)
    _, five = _trained(5)
    np.testing.assert_array_less(five.validation_elbo, five.validation_bound)

  @pytest.mark.slow
  def test_a_run_in_the_sweep_equals_the_run_alone(self):
    train = vae_train.make_train(tiny_digits_config(), 5, DATA)
    state, metrics = jax.jit(train)(jax.random.key(1))
    swept_params, swept_metrics = _trained(5)
    chex.assert_trees_all_close(metrics, jax.tree.map(lambda x: x[1], swept_metrics),
                                rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(state.params, jax.tree.map(lambda x: x[1], swept_params),
                                rtol=1e-4, atol=1e-5)

  @pytest.mark.slow
  def test_an_estimator_in_the_sweep_equals_its_run_alone(self):
    # Runs estimator-major: (reparameterized, dreg) x seeds (0, 1). In the sweep the
    # estimator is a leaf; alone, a Python number (iwae_objective's static path).
    config = tiny_digits_config()
    leaves = vae_train.encoder_gradient_leaves(config.encoder_gradients, 2)
    outcome = engine.run(vae_train.make_trainer(config, 5, DATA), np.tile(np.arange(2), 2),
                         leaves)
    # The same seed starts every estimator from the same parameters: equal first evaluations.
    chex.assert_trees_all_equal(jax.tree.map(lambda x: x[:2, 0], outcome.history),
                                jax.tree.map(lambda x: x[2:, 0], outcome.history))
    alone = vae_train.make_train(tiny_digits_config(encoder_gradients=("dreg",)), 5, DATA)
    state, metrics = jax.jit(alone)(jax.random.key(1))
    chex.assert_trees_all_close(metrics, jax.tree.map(lambda x: x[3], outcome.history),
                                rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(state.params,
                                jax.tree.map(lambda x: x[3], outcome.final_state.params),
                                rtol=1e-4, atol=1e-5)
    # And the estimators differ: DReG's runs are not the reparameterized ones.
    self.assertGreater(float(np.max(np.abs(
        outcome.history.validation_bound[2:, -1] - outcome.history.validation_bound[:2, -1]
    ))), 1e-3)

  def test_the_same_seed_starts_every_k_from_the_same_decoder(self):
    # Common random numbers: the initial parameters depend on the seed only, so at step 0
    # the k = 1 and k = 5 runs of a seed have the same ELBO in expectation; their first
    # evaluations differ by Monte Carlo noise alone, far less than between seeds.
    _, one = _trained(1)
    _, five = _trained(5)
    same_seed = np.abs(one.validation_elbo[:, 0] - five.validation_elbo[:, 0])
    other_seed = abs(one.validation_elbo[0, 0] - one.validation_elbo[1, 0])
    np.testing.assert_array_less(same_seed, 0.1 * other_seed)


@pytest.mark.slow
class TestTest(absltest.TestCase):

  def test_metrics_and_pictures(self):
    config = tiny_digits_config()
    params, _ = _trained(5)
    test = vae_train.make_test(config, DATA)
    metrics, pictures, comparison = sharding.map_runs(
        lambda run: test(run[0], jax.random.key(run[1])), (params, np.arange(2, dtype=np.uint32))
    )
    chex.assert_tree_all_finite(metrics)
    # Both bounds from the same weights: their mean below their log-mean-exp.
    np.testing.assert_array_less(metrics.elbo, metrics.log_likelihood)
    np.testing.assert_array_less(metrics.encoder_elbo, metrics.mean_field_log_likelihood)
    np.testing.assert_allclose(
        metrics.approximation_gap + metrics.amortization_gap,
        metrics.mean_field_log_likelihood - metrics.encoder_elbo, rtol=1e-5, atol=1e-4,
    )
    # The mean field starts at the encoder's q and climbs its ELBO: a positive
    # amortization gap, well beyond the noise of two 200-sample estimates.
    np.testing.assert_array_less(0.0, metrics.amortization_gap)
    self.assertTrue(np.all((metrics.active_units >= 0) & (metrics.active_units <= 4)))
    chex.assert_shape(pictures.samples, (2, 4, 64))
    chex.assert_shape(pictures.reconstructions, (2, 4, 64))
    self.assertTrue(np.all((pictures.samples >= 0) & (pictures.samples <= 1)))
    # Every two-sample statistic of 40 samples against 40 test images, per run.
    chex.assert_shape(tuple(comparison), ((2,),) * len(comparison))
    chex.assert_tree_all_finite(comparison)
    np.testing.assert_array_less(0.0, comparison.mmd_p_value)


class ValidateTest(absltest.TestCase):

  def test_accepts_the_default_and_names_the_bad_field(self):
    vae_train.validate(tiny_digits_config(), DATA)
    with self.assertRaisesRegex(ConfigError, r"^config.mean_field.num_images=300 must be at"
                                             r" most 250, the number of test images$"):
      vae_train.validate(tiny_digits_config(**{"mean_field.num_images": 300}), DATA)


if __name__ == "__main__":
  absltest.main()
