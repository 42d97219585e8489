"""Tests for gan_theory.gan: one run as one pure, deterministic function of a key."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized

from gan_theory import gan
from gan_theory.validation import ConfigError
from tests.tiny import tiny_config

OBJECTIVES = ("minimax", "non_saturating", "maximum_likelihood")


@functools.cache
def _tiny_train():
  """The tiny config's train, compiled once for the tests that share it."""
  return jax.jit(gan.make_train(tiny_config()))


class TrainTest(chex.TestCase):

  def test_shapes_and_steps(self):
    config = tiny_config()
    state, metrics = _tiny_train()(jax.random.key(0), 1)
    self.assertEqual(int(state.step), config.num_steps)
    self.assertEqual(int(state.diverged_step), -1)
    self.assertEqual(metrics._fields, gan.EvalMetrics._fields)
    num_evals = config.num_steps // config.eval_every + 1
    chex.assert_tree_shape_prefix(metrics, (num_evals,))
    chex.assert_tree_all_finite((state.generator_params, state.discriminator_params, metrics))

  def test_deterministic(self):
    train = _tiny_train()
    first = train(jax.random.key(3), 2)
    second = train(jax.random.key(3), 2)
    chex.assert_trees_all_equal(first, second)

  def test_seeds_differ(self):
    train = _tiny_train()
    _, metrics_a = train(jax.random.key(0), 0)
    _, metrics_b = train(jax.random.key(1), 0)
    self.assertFalse(np.array_equal(metrics_a.mmd2, metrics_b.mmd2))

  def test_common_random_numbers(self):
    # One step: the discriminator moves first, so after it its parameters depend on
    # the seed's initial parameters and first batch only, identically for every
    # objective; the generator's step then differs by objective.
    config = tiny_config(num_steps=1, eval_every=1)
    trainer = gan.make_trainer(config)
    key = jax.random.key(7)
    states = [trainer.init(key, i) for i in range(len(OBJECTIVES))]
    for state in states[1:]:
      chex.assert_trees_all_equal(state.generator_params, states[0].generator_params)
      chex.assert_trees_all_equal(state.discriminator_params, states[0].discriminator_params)
    stepped = [jax.jit(trainer.train_period)(state)[0] for state in states]
    for state in stepped[1:]:
      chex.assert_trees_all_equal(state.discriminator_params, stepped[0].discriminator_params)
    self.assertFalse(
        np.array_equal(
            stepped[0].generator_params["params"]["MLP_0"]["Dense_0"]["kernel"],
            stepped[1].generator_params["params"]["MLP_0"]["Dense_0"]["kernel"],
        )
    )

  def test_evaluation_draws_are_shared_across_objectives(self):
    # Same seed, same initial parameters: every metric that does not involve the
    # objective agrees, so paired comparisons start from the same point.
    config = tiny_config()
    trainer = gan.make_trainer(config)
    key = jax.random.key(5)
    first, second = (jax.jit(trainer.evaluate)(trainer.init(key, i)) for i in (0, 2))
    for name in ("modes", "high_quality", "mode_kl", "mmd2", "discriminator_accuracy"):
      np.testing.assert_array_equal(getattr(first, name), getattr(second, name))

  @chex.variants(with_jit=True, without_jit=True)
  def test_train_period_variants_agree(self):
    config = tiny_config(num_steps=4, eval_every=4)
    trainer = gan.make_trainer(config)
    state = trainer.init(jax.random.key(0), jnp.int32(2))
    new_state, metrics = self.variant(trainer.train_period)(state)
    self.assertEqual(int(new_state.step), 4)
    chex.assert_tree_all_finite(metrics)
    reference_state, reference_metrics = jax.jit(trainer.train_period)(state)
    chex.assert_trees_all_close(metrics, reference_metrics, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(new_state.generator_params, reference_state.generator_params,
                                rtol=1e-5, atol=1e-6)

  def test_train_period_traced_once(self):
    trainer = gan.make_trainer(tiny_config())
    counted = chex.assert_max_traces(trainer.train_period, n=1)
    train_period = jax.jit(counted)
    state = trainer.init(jax.random.key(0), jnp.int32(0))
    for _ in range(3):
      state, _ = train_period(state)
    self.assertEqual(int(state.step), 30)

  def test_maximum_likelihood_gradients_finite_at_high_learning_rate(self):
    # A discriminator driven hard produces huge logits; the capped ML cost keeps the
    # generator's gradients and parameters finite.
    config = tiny_config(num_steps=100, eval_every=50, **{"discriminator.learning_rate": 0.1})
    state, metrics = jax.jit(gan.make_train(config))(jax.random.key(0), 2)
    chex.assert_tree_all_finite((state.generator_params, metrics.generator_grad_norm))

  def test_divergence_is_marked_with_its_step(self):
    # Plain gradient descent with a step of 1e30 overflows the parameters at once.
    config = tiny_config(**{"optimizer.name": "sgd", "generator.learning_rate": 1e30,
                            "discriminator.learning_rate": 1e30})
    train = jax.jit(gan.make_train(config))
    for objective in range(len(OBJECTIVES)):
      state, metrics = train(jax.random.key(0), objective)
      diverged_step = int(state.diverged_step)
      self.assertBetween(diverged_step, 1, config.eval_every)
      chex.assert_tree_all_finite(jax.tree.map(lambda m: m[0], metrics))  # Step 0.
      for name, values in metrics._asdict().items():
        self.assertTrue(np.all(np.isnan(values[1:])), name)

  def test_sample(self):
    trainer = gan.make_trainer(tiny_config())
    state = trainer.init(jax.random.key(0), 0)
    samples = jax.jit(trainer.sample, static_argnums=1)(state, 17)
    chex.assert_shape(samples, (17, 2))

  def test_learns_the_ring(self):
    # 1,500 non-saturating steps on the default networks bring MMD^2 to the ring from
    # its initial value (about 0.2) down by far more than its evaluation noise.
    config = tiny_config(num_steps=1500, eval_every=1500, batch_size=128)
    config.generator.hidden_sizes = config.discriminator.hidden_sizes = (64, 64)
    _, metrics = jax.jit(gan.make_train(config))(jax.random.key(0), 1)
    self.assertLess(float(metrics.mmd2[-1]), 0.5 * float(metrics.mmd2[0]))
    self.assertGreaterEqual(float(metrics.modes[-1]), 4)


# (field, bad value, what the message must say)
BAD_CONFIGS = [
    ("target", "spiral", "config.target='spiral' is not allowed; valid: ring, grid"),
    ("objectives", ("minimax", "wgan"), "config.objectives"),
    ("objectives", (), "config.objectives"),
    ("objectives", ("minimax", "minimax"), "distinct"),
    ("num_seeds", 0, "config.num_seeds=0 must be a positive integer"),
    ("num_steps", -5, "config.num_steps=-5 must be a positive integer"),
    ("batch_size", 0, "config.batch_size=0 must be a positive integer"),
    ("latent_dim", 0, "config.latent_dim"),
    ("eval_every", 7, "config.eval_every=7 must divide config.num_steps=20"),
    ("first_seed", -1, "config.first_seed"),
    ("first_seed", 2**32 - 1, "must not exceed 2**32 (seeds are uint32)"),
    ("vmap_size", -2, "config.vmap_size=-2 must be a non-negative integer"),
    ("eval_samples", 1, "config.eval_samples"),
    ("mmd_samples", 500, "config.mmd_samples=500 must not exceed"),
    ("mmd_bandwidth", 0.0, "config.mmd_bandwidth"),
    ("generator.hidden_sizes", (16, 0), "config.generator.hidden_sizes"),
    ("discriminator.hidden_sizes", (), "config.discriminator.hidden_sizes"),
    ("generator.activation", "sigmoidish", "config.generator.activation='sigmoidish'"),
    ("discriminator.learning_rate", -1e-3, "config.discriminator.learning_rate"),
    ("optimizer.name", "adagrad", "config.optimizer.name='adagrad' is not allowed; valid: adam, sgd"),
    ("optimizer.b2", 1.0, "config.optimizer.b2"),
    ("ring.std", -0.1, "config.ring"),
]


class ValidateTest(parameterized.TestCase):

  def test_default_configs_are_valid(self):
    gan.validate(tiny_config())
    gan.validate(tiny_config(target="grid"))

  @parameterized.parameters(*BAD_CONFIGS)
  def test_bad_field_gives_one_line_naming_it(self, field, value, message):
    config = tiny_config()
    config.update_from_flattened_dict({field: value})
    with self.assertRaises(ConfigError) as raised:
      gan.make_trainer(config)
    self.assertIn(message, str(raised.exception))
    self.assertNotIn("\n", str(raised.exception))


if __name__ == "__main__":
  absltest.main()
