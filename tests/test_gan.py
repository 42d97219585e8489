"""Tests for gan_theory.gan: one run as one pure, deterministic function of a key."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import scipy.stats
from absl.testing import absltest, parameterized
from jax.flatten_util import ravel_pytree

from gan_theory import distributions, divergences, gan, networks, objectives, theory
from gan_theory.metrics import mean_and_stderr
from gan_theory.validation import ConfigError
from tests.tiny import tiny_config

OBJECTIVES = ("minimax", "non_saturating", "maximum_likelihood")


def _setting(objective, config=None):
  """Run ``objective`` (an index or a name) at the config's learning rates."""
  return gan.run_setting(tiny_config() if config is None else config, objective)


@functools.cache
def _tiny_train():
  """The tiny config's train, compiled once for the tests that share it."""
  return jax.jit(gan.make_train(tiny_config()))


class TrainTest(chex.TestCase):

  def test_shapes_and_steps(self):
    config = tiny_config()
    state, metrics = _tiny_train()(jax.random.key(0), _setting(1))
    self.assertEqual(int(state.step), config.num_steps)
    self.assertEqual(int(state.diverged_step), -1)
    self.assertEqual(metrics._fields, gan.EvalMetrics._fields)
    num_evals = config.num_steps // config.eval_every + 1
    chex.assert_tree_shape_prefix(metrics, (num_evals,))
    chex.assert_tree_all_finite((state.generator_params, state.discriminator_params, metrics))

  def test_deterministic(self):
    train = _tiny_train()
    first = train(jax.random.key(3), _setting(2))
    second = train(jax.random.key(3), _setting(2))
    chex.assert_trees_all_equal(first, second)

  def test_seeds_differ(self):
    train = _tiny_train()
    _, metrics_a = train(jax.random.key(0), _setting(0))
    _, metrics_b = train(jax.random.key(1), _setting(0))
    self.assertFalse(np.array_equal(metrics_a.mmd2, metrics_b.mmd2))

  def test_common_random_numbers(self):
    # One step: the discriminator moves first, so after it its parameters depend on
    # the seed's initial parameters and first batch only, identically for every
    # objective; the generator's step then differs by objective.
    config = tiny_config(num_steps=1, eval_every=1)
    trainer = gan.make_trainer(config)
    key = jax.random.key(7)
    states = [trainer.init(key, _setting(i)) for i in range(len(OBJECTIVES))]
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
    first, second = (jax.jit(trainer.evaluate)(trainer.init(key, _setting(i))) for i in (0, 2))
    for name in ("modes", "high_quality", "mode_kl", "mmd2", "discriminator_accuracy"):
      np.testing.assert_array_equal(getattr(first, name), getattr(second, name))

  def test_train_period_traced_once(self):
    trainer = gan.make_trainer(tiny_config())
    counted = chex.assert_max_traces(trainer.train_period, n=1)
    train_period = jax.jit(counted)
    state = trainer.init(jax.random.key(0), _setting(0))
    for _ in range(3):
      state, _ = train_period(state)
    self.assertEqual(int(state.step), 30)

  def test_maximum_likelihood_gradients_finite_at_high_learning_rate(self):
    # A discriminator driven hard produces huge logits; the capped ML cost keeps the
    # generator's gradients and parameters finite.
    config = tiny_config(num_steps=100, eval_every=50, **{"discriminator.learning_rate": (0.1,)})
    state, metrics = jax.jit(gan.make_train(config))(jax.random.key(0), _setting(2, config))
    chex.assert_tree_all_finite((state.generator_params, metrics.generator_grad_norm))

  def test_divergence_is_marked_with_its_step(self):
    # Plain gradient descent with a step of 1e30 overflows the parameters at once.
    config = tiny_config(**{"optimizer.name": "sgd", "generator.learning_rate": (1e30,),
                            "discriminator.learning_rate": (1e30,)})
    train = jax.jit(gan.make_train(config))
    for objective in range(len(OBJECTIVES)):
      state, metrics = train(jax.random.key(0), _setting(objective, config))
      diverged_step = int(state.diverged_step)
      self.assertBetween(diverged_step, 1, config.eval_every)
      chex.assert_tree_all_finite(jax.tree.map(lambda m: m[0], metrics))  # Step 0.
      for name in gan.measured_metrics(config):
        self.assertTrue(np.all(np.isnan(getattr(metrics, name)[1:])), name)

  def test_sample(self):
    trainer = gan.make_trainer(tiny_config())
    state = trainer.init(jax.random.key(0), _setting(0))
    samples = jax.jit(trainer.sample, static_argnums=1)(state, 17)
    chex.assert_shape(samples, (17, 2))

  @pytest.mark.slow
  def test_learns_the_ring(self):
    # 1,500 non-saturating steps on 64x64 networks lower MMD^2 to the ring and raise the
    # modes captured, on average over seeds: the one-sided 99.9% lower confidence bound of
    # the mean (Student's t over the seeds' spread) is above 0. One seed would not do: GAN
    # training amplifies float32 rounding, and single runs range from a ratio of 0.16 to
    # 0.52 of the initial MMD^2 between machines and seeds; 4 seeds left t at 3.9 on one
    # machine and 10 on another, so 8.
    config = tiny_config(num_steps=1500, eval_every=1500, batch_size=128, eval_samples=256)
    config.generator.hidden_sizes = config.discriminator.hidden_sizes = (64, 64)
    train = jax.jit(jax.vmap(gan.make_train(config), in_axes=(0, None)))
    num_seeds = 8
    keys = jax.vmap(jax.random.key)(jnp.arange(num_seeds))
    _, metrics = train(keys, _setting("non_saturating", config))
    critical = scipy.stats.t.ppf(0.999, df=num_seeds - 1)
    for improvement in (-np.log(metrics.mmd2[:, -1] / metrics.mmd2[:, 0]),
                        metrics.modes[:, -1] - metrics.modes[:, 0]):
      mean, stderr = mean_and_stderr(improvement)
      self.assertGreater(float(mean), critical * float(stderr), improvement)


def _tiny_flow_config(**overrides):
  return tiny_config(
      objectives=(*OBJECTIVES, "mle"),
      **{"generator.kind": "flow", "generator.num_couplings": 2,
         "generator.hidden_sizes": (8, 8), **overrides},
  )


# Without jit, every operation outside the scan compiles on its own: slow.
@pytest.mark.slow
class TrainPeriodEagerTest(chex.TestCase):

  def test_eager_train_period_equals_the_jitted_one(self):
    config = tiny_config(num_steps=4, eval_every=4)
    trainer = gan.make_trainer(config)
    state = trainer.init(jax.random.key(0), _setting(2))
    new_state, metrics = trainer.train_period(state)  # Op by op, but for lax.scan's body.
    self.assertEqual(int(new_state.step), 4)
    chex.assert_tree_all_finite(metrics)
    reference_state, reference_metrics = jax.jit(trainer.train_period)(state)
    chex.assert_trees_all_close(metrics, reference_metrics, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(new_state.generator_params, reference_state.generator_params,
                                rtol=1e-5, atol=1e-6)


class FlowGeneratorTest(chex.TestCase):

  def test_density_metrics_only_with_a_flow(self):
    self.assertEqual(gan.measured_metrics(tiny_config()),
                     tuple(n for n in gan.EvalMetrics._fields if n not in gan.DENSITY_METRICS))
    self.assertEqual(gan.measured_metrics(_tiny_flow_config()), gan.EvalMetrics._fields)
    trainer = gan.make_trainer(tiny_config())
    metrics = jax.jit(trainer.evaluate)(trainer.init(jax.random.key(0), _setting(0)))
    for name in gan.DENSITY_METRICS:
      self.assertIsNone(getattr(metrics, name), name)

  @pytest.mark.slow
  def test_mle_trains_the_flow_by_likelihood(self):
    # Evaluation samples in whole batches, so that the cost's batches cover them all.
    config = _tiny_flow_config(num_steps=200, eval_every=200, eval_samples=256)
    _, metrics = jax.jit(gan.make_train(config))(jax.random.key(0), _setting("mle", config))
    chex.assert_tree_all_finite(metrics)
    # The mle cost on the evaluation data is the held-out NLL itself.
    np.testing.assert_allclose(metrics.generator_loss, metrics.nll, rtol=1e-6)
    # 200 steps lower it by far more than four standard errors of the difference. One
    # seed suffices: likelihood ascent is no game, and seeds 0 to 3 drop 0.41 to 0.47 nats
    # against a standard error of 0.004.
    drop = float(metrics.nll[0] - metrics.nll[-1])
    self.assertGreater(drop, 4 * float(np.hypot(metrics.nll_stderr[0], metrics.nll_stderr[-1])))
    # NLL - forward KL = -E_data log p_data estimates the data's entropy, whatever the
    # model: for 8 separated modes, log 8 + log(2 pi e std^2) in 2-D; -log p_data has
    # variance d/2 = 1 per sample.
    entropy = float(metrics.nll[-1] - metrics.forward_kl[-1])
    expected = math.log(8) + math.log(2 * math.pi * math.e * config.ring.std**2)
    self.assertLess(abs(entropy - expected), 4 / math.sqrt(config.eval_samples))

  def test_every_objective_starts_from_the_same_flow(self):
    config = _tiny_flow_config()
    trainer = gan.make_trainer(config)
    key = jax.random.key(3)
    states = [trainer.init(key, _setting(i, config)) for i in range(len(config.objectives))]
    for state in states[1:]:
      chex.assert_trees_all_equal(state.generator_params, states[0].generator_params)
    first, last = (jax.jit(trainer.evaluate)(states[i]) for i in (0, -1))
    for name in gan.DENSITY_METRICS:
      np.testing.assert_array_equal(getattr(first, name), getattr(last, name))


@pytest.mark.slow
class FGanRunsTest(chex.TestCase):

  def test_every_game_trains_and_jensen_shannon_is_the_minimax_game(self):
    # Each run's discriminator trains on its own game's loss. The Jensen-Shannon game's
    # discriminator loss is the cross-entropy minus 2 log 2 and its generator cost the
    # minimax cost plus log 2: the same gradients, so the same run, number for number.
    names = ("minimax", *(f"f_{name}" for name in objectives.F_DIVERGENCES))
    config = tiny_config(objectives=names)
    train = jax.jit(jax.vmap(gan.make_train(config), in_axes=(None, 0)))
    settings = jax.tree.map(lambda *x: np.stack(x), *(_setting(i, config) for i in range(len(names))))
    state, metrics = train(jax.random.key(0), settings)
    np.testing.assert_array_equal(state.diverged_step, -1)
    chex.assert_tree_all_finite((state.generator_params, state.discriminator_params, metrics))
    minimax, jensen_shannon = 0, names.index("f_jensen_shannon")
    for params in (state.generator_params, state.discriminator_params):
      chex.assert_trees_all_close(
          jax.tree.map(lambda p: p[jensen_shannon], params),
          jax.tree.map(lambda p: p[minimax], params), rtol=1e-6, atol=1e-7,
      )
    for run in range(1, len(names)):
      if run != jensen_shannon:
        kernel = state.discriminator_params["params"]["MLP_0"]["Dense_0"]["kernel"]
        self.assertFalse(np.allclose(kernel[run], kernel[minimax]), names[run])


def _oracle_config(names, **overrides):
  """The 1-D problem: the Gaussian generator x = mean + std z against the optimal
  discriminator, one plain gradient step of size 1 (so a step is minus the gradient)."""
  return tiny_config(
      objectives=names, target="line", latent_dim=1,
      **{"generator.kind": "gaussian", "discriminator.kind": "oracle", "optimizer.name": "sgd",
         "generator.learning_rate": (1.0,), **overrides},
  )


class OracleTest(chex.TestCase):

  def test_each_costs_expected_gradient_is_its_divergences(self):
    # In the sweep's own training step, against the oracle a* = log p_data - log p_G held
    # fixed, each cost's gradient estimate (minus an SGD step of size 1 from N(0, 1)) has
    # the expectation of the exact gradient of its objective's divergence (quadrature):
    # within 4 standard errors over 64 seeds of 4,096 samples. The self-normalized cost is
    # biased by O(1/n), far below that.
    names = tuple(n for n in objectives.names() if objectives.get(n).divergence is not None)
    num_seeds = 64
    config = _oracle_config(names, batch_size=4096, eval_samples=8192)
    trainer = gan.make_trainer(config)
    keys = jax.vmap(jax.random.key)(jnp.arange(num_seeds))

    def minus_step(objective, key):
      state = trainer.init(key, gan.RunSetting(objective, 1.0, 1.0))
      stepped = trainer.train_step(state)
      return jax.tree.map(jnp.subtract, state.generator_params, stepped.generator_params)

    estimates = jax.jit(jax.vmap(jax.vmap(minus_step, (None, 0)), (0, None)))(
        jnp.arange(len(names)), keys)["params"]
    target = distributions.line(**config.line)
    quadrature = divergences.trapezoid(-15.0, 15.0, 30_001)
    log_p_data = target.log_prob(quadrature.points[:, None])

    for index, name in enumerate(names):
      def divergence(mean, log_std):
        log_p_g = theory.gaussian_log_prob(theory.Gaussian(mean, log_std), quadrature.points)
        return objectives.get(name).divergence(quadrature, log_p_data, log_p_g)

      exact = jax.grad(divergence, argnums=(0, 1))(jnp.float32(0.0), jnp.float32(0.0))
      for field, expected in zip(("mean", "log_std"), exact):
        values = np.asarray(estimates[field][index, :, 0], np.float64)
        mean, stderr = values.mean(), values.std(ddof=1) / math.sqrt(num_seeds)
        self.assertLess(abs(mean - float(expected)), 4 * stderr + 1e-5,
                        f"{name} {field}: {mean:.5f} ± {stderr:.5f}, exact {float(expected):.5f}")

  def test_the_oracle_is_not_trained_and_is_at_distance_zero(self):
    config = _oracle_config(("minimax", "mle"))
    trainer = gan.make_trainer(config)
    state = trainer.init(jax.random.key(0), _setting(0, config))
    self.assertEqual(state.discriminator_params, {})
    stepped, metrics = jax.jit(trainer.train_period)(state)
    self.assertEqual(stepped.discriminator_params, {})
    chex.assert_tree_all_finite(metrics)
    self.assertEqual(float(metrics.discriminator_gap), 0.0)


class EvaluationTest(chex.TestCase):

  def test_per_batch_metrics(self):
    # The weights' effective sample size and the gradient's variance over the evaluation
    # draw's batches, against the same quantities computed here from their definitions.
    config = _tiny_flow_config(batch_size=50)
    trainer = gan.make_trainer(config)
    state = trainer.init(jax.random.key(1), _setting(2, config))
    metrics = jax.jit(trainer.evaluate)(state)
    self.assertGreater(float(metrics.discriminator_gap), 0.0)  # Not the optimal one.
    latent_key, data_key = jax.random.split(jax.random.fold_in(state.key, 2))
    latents = jax.random.normal(latent_key, (config.eval_samples, 2))
    real = distributions.ring(**config.ring).sample(data_key, config.eval_samples)
    flow = networks.RealNVP(2, 2, (8, 8))
    fake = flow.apply(state.generator_params, latents)
    logits = networks.Discriminator((16, 16)).apply(state.discriminator_params, fake)
    weights = np.exp(np.asarray(logits, np.float64)).reshape(4, 50)
    ess = weights.sum(1) ** 2 / (weights**2).sum(1) / 50
    np.testing.assert_allclose(metrics.weight_ess, ess.mean(), rtol=1e-4)
    # The maximum-likelihood cost's gradient on each batch, by autodiff of its definition.
    @jax.jit
    def batch_gradient(z):
      def cost(params):
        return -jnp.mean(jnp.exp(networks.Discriminator((16, 16)).apply(
            state.discriminator_params, flow.apply(params, z))))
      return ravel_pytree(jax.grad(cost)(state.generator_params))[0]
    gradients = np.stack([np.asarray(batch_gradient(latents[b * 50:(b + 1) * 50]), np.float64)
                          for b in range(4)])
    np.testing.assert_allclose(metrics.generator_grad_variance,
                               gradients.var(axis=0, ddof=1).sum(), rtol=1e-3)


class DiscriminatorStepsTest(chex.TestCase):

  def test_more_steps_fit_the_discriminator_closer_for_every_objective_alike(self):
    # One training step with k discriminator updates: the discriminator's loss on the
    # evaluation draw falls further with k = 5 than with k = 1 (paired over 8 seeds, by
    # more than 4 standard errors of the difference), and identically for every
    # objective (the batches come from the seed's streams).
    num_seeds = 8
    keys = jax.vmap(jax.random.key)(jnp.arange(num_seeds))
    losses = {}
    for steps in (1, 5):
      config = tiny_config(num_steps=1, eval_every=1, discriminator_steps=steps)
      trainer = gan.make_trainer(config)

      def period(objective, key):
        state, metrics = trainer.train_period(trainer.init(key, _setting(objective, config)))
        return metrics.discriminator_loss, state.discriminator_params

      loss, params = jax.jit(jax.vmap(jax.vmap(period, (None, 0)), (0, None)))(
          jnp.arange(len(OBJECTIVES)), keys)
      for objective in range(1, len(OBJECTIVES)):
        chex.assert_trees_all_equal(jax.tree.map(lambda p: p[objective], params),
                                    jax.tree.map(lambda p: p[0], params))
      losses[steps] = np.asarray(loss[0], np.float64)
    mean, stderr = mean_and_stderr(losses[1] - losses[5])
    self.assertGreater(float(mean), 4 * float(stderr))


class SampleGradientsTest(chex.TestCase):

  def test_costs_weigh_samples_as_their_derivatives_in_the_logit(self):
    # One state, three costs: sample i's gradient is c'(a_i) da_i/dtheta, so the ratio
    # of two costs' gradient norms is the ratio of their derivatives in the logit:
    # minimax / non-saturating = D / (1 - D) and maximum likelihood / non-saturating =
    # exp(a) / (1 - D) = D / (1 - D)^2.
    config = tiny_config(num_steps=50, eval_every=50)
    trainer = gan.make_trainer(config)
    state, _ = jax.jit(trainer.train_period)(trainer.init(jax.random.key(0), _setting(1)))
    sample_gradients = jax.jit(trainer.sample_gradients, static_argnums=1)
    by_objective = [sample_gradients(state.replace(setting=state.setting._replace(objective=jnp.int32(i))), 64)
                    for i in range(len(OBJECTIVES))]
    d = np.asarray(by_objective[0].discriminator_output, np.float64)
    chex.assert_shape(d, (64,))
    for other in by_objective[1:]:
      np.testing.assert_array_equal(other.discriminator_output, d)
    minimax, non_saturating, maximum_likelihood = (
        np.asarray(g.grad_norm, np.float64) for g in by_objective
    )
    np.testing.assert_allclose(minimax / non_saturating, d / (1 - d), rtol=1e-4)
    np.testing.assert_allclose(maximum_likelihood / non_saturating, d / (1 - d) ** 2, rtol=1e-4)


# (field, bad value, what the message must say)
BAD_CONFIGS = [
    ("target", "spiral", "config.target='spiral' is not allowed; valid: ring, grid"),
    ("objectives", ("minimax", "wgan"), "config.objectives"),
    ("objectives", (), "config.objectives"),
    ("objectives", ("minimax", "minimax"), "'minimax' is named twice"),
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
    ("discriminator.learning_rate", (-1e-3,), "config.discriminator.learning_rate"),
    ("optimizer.name", "adagrad",
     "config.optimizer.name='adagrad' is not allowed; valid: adam, sgd"),
    ("optimizer.b2", 1.0, "config.optimizer.b2"),
    ("ring.std", -0.1, "config.ring"),
    ("generator.kind", "vae", "config.generator.kind='vae' is not allowed; valid: mlp, flow, gaussian"),
    ("objectives", ("minimax", "mle"), "includes 'mle', which needs a density"),
]
# The same for a flow generator.
BAD_FLOW_CONFIGS = [
    ("latent_dim", 3, "config.latent_dim=3 must equal the dimension of the data, 2"),
    ("generator.num_couplings", 0, "config.generator.num_couplings=0 must be a positive integer"),
]


class ValidateTest(parameterized.TestCase):

  def test_default_configs_are_valid(self):
    gan.validate(tiny_config())
    gan.validate(tiny_config(target="grid"))
    gan.validate(_tiny_flow_config())

  @parameterized.parameters(
      *((tiny_config, *case) for case in BAD_CONFIGS),
      *((_tiny_flow_config, *case) for case in BAD_FLOW_CONFIGS),
  )
  def test_bad_field_gives_one_line_naming_it(self, make_config, field, value, message):
    config = make_config()
    config.update_from_flattened_dict({field: value})
    with self.assertRaises(ConfigError) as raised:
      gan.make_trainer(config)
    self.assertNotIn("\n", str(raised.exception))
    self.assertIn(message, str(raised.exception))

  def test_two_sample_tests_must_be_a_bool(self):
    # A config built from a plain dict has no type lock: 1 would pass for True.
    config = ml_collections.ConfigDict(tiny_config().to_dict() | {"two_sample_tests": 1})
    with self.assertRaisesRegex(ConfigError, r"^config.two_sample_tests=1 must be True or False$"):
      gan.validate(config)


if __name__ == "__main__":
  absltest.main()
