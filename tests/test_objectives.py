"""Tests for gan_theory.objectives: the registry, values, gradients, stability and isolation
under vmap, each game's optimum and each f-GAN game's divergence."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized

from gan_theory import divergences, objectives, theory
from tests import least_squares

LOGITS = jnp.linspace(-8.0, 8.0, 33)
EXTREME_LOGITS = jnp.linspace(-80.0, 80.0, 161)
# What a diverging discriminator can output: exp() of these overflows float32.
DIVERGED_LOGITS = jnp.array([-1e4, -1e3, -100.0, 0.0, 100.0, 1e3, 1e4])


def _sigmoid(a):
  return 1.0 / (1.0 + np.exp(-np.asarray(a, np.float64)))


# Each objective, its cost written with D = sigmoid(a) in float64, and d cost / d a.
REFERENCE = {
    "minimax": (lambda a: np.log(1.0 - _sigmoid(a)), lambda a: -_sigmoid(a)),
    "non_saturating": (lambda a: -np.log(_sigmoid(a)), lambda a: -(1.0 - _sigmoid(a))),
    "maximum_likelihood": (
        lambda a: -_sigmoid(a) / (1.0 - _sigmoid(a)),  # -D / (1 - D) = -exp(a)
        lambda a: -np.exp(np.asarray(a, np.float64)),
    ),
    "boundary_seeking": (  # (log D - log(1 - D))^2 / 2
        lambda a: 0.5 * (np.log(_sigmoid(a)) - np.log(1.0 - _sigmoid(a))) ** 2,
        lambda a: np.asarray(a, np.float64),
    ),
}


# Each f-divergence's f(u), f'(u) and f''(u), in float64. A game's generator cost at a
# logit a, u = exp(a), is -f*(f'(u)) = f(u) - u f'(u), and its derivative in a is -u^2 f''(u).
F_FUNCTIONS = {
    "kl": (lambda u: u * np.log(u), lambda u: np.log(u) + 1, lambda u: 1 / u),
    "reverse_kl": (lambda u: -np.log(u), lambda u: -1 / u, lambda u: 1 / u**2),
    "pearson": (lambda u: (u - 1) ** 2, lambda u: 2 * (u - 1), lambda u: 2 + 0 * u),
    "squared_hellinger": (
        lambda u: (np.sqrt(u) - 1) ** 2, lambda u: 1 - 1 / np.sqrt(u), lambda u: 0.5 * u**-1.5
    ),
    "jensen_shannon": (
        lambda u: u * np.log(u) - (u + 1) * np.log((u + 1) / 2),
        lambda u: np.log(u) - np.log((u + 1) / 2),
        lambda u: 1 / u - 1 / (u + 1),
    ),
}


def _f_game_reference(f, f_prime, f_second):
  u = lambda a: np.exp(np.asarray(a, np.float64))
  return (lambda a: f(u(a)) - u(a) * f_prime(u(a)), lambda a: -u(a) ** 2 * f_second(u(a)))


REFERENCE.update(
    {f"f_{name}": _f_game_reference(*functions) for name, functions in F_FUNCTIONS.items()}
)


BUILT_INS = ("minimax", "non_saturating", "maximum_likelihood",
             *(f"f_{name}" for name in objectives.F_DIVERGENCES),
             "maximum_likelihood_self_normalized", "boundary_seeking", "mle", "mmd")
# The built-ins whose cost is not a mean of a sample cost.
BATCH_COSTS = ("maximum_likelihood_self_normalized", "mle", "mmd")
# Samples and data for the costs that read them.
FAKE = jax.random.normal(jax.random.key(0), (LOGITS.size, 2))
REAL = jax.random.normal(jax.random.key(1), (LOGITS.size, 2)) + 1.0


def _batch(logits, data_nll=0.0, fake=None):
  fake = FAKE[: logits.size] if fake is None else fake
  return objectives.GeneratorBatch(logits, fake, REAL[: logits.size], data_nll)


def _mean_cost(name):
  return lambda a: objectives.get(name).generator_cost(_batch(a))


class RegistryTest(absltest.TestCase):

  def test_built_ins_first_in_order(self):
    self.assertEqual(objectives.names()[: len(BUILT_INS)], BUILT_INS)
    self.assertCountEqual(objectives.F_DIVERGENCES, F_FUNCTIONS)
    self.assertCountEqual(REFERENCE, [n for n in BUILT_INS if n not in BATCH_COSTS])

  def test_a_record_from_user_code_is_known_by_name(self):
    self.assertIn(least_squares.NAME, objectives.names())
    self.assertIs(objectives.get(least_squares.NAME), least_squares.LEAST_SQUARES)

  def test_unknown_name_lists_valid_ones(self):
    with self.assertRaisesRegex(ValueError, "'wasserstein'; valid: minimax, non_saturating,"):
      objectives.get("wasserstein")

  def test_register_refuses_a_bad_record(self):
    loss = objectives.CROSS_ENTROPY
    cases = [
        (objectives.Objective("minimax", loss, sample_cost=objectives.minimax),
         "registered already"),
        (objectives.Objective("Hinge", loss, sample_cost=objectives.minimax), "lowercase"),
        (objectives.Objective("a,b", loss, sample_cost=objectives.minimax), "lowercase"),
        (objectives.Objective("no_cost", loss), "has no cost"),
        (objectives.Objective("plain", lambda r, f: 0.0, sample_cost=objectives.minimax),
         "DiscriminatorLoss"),
    ]
    before = objectives.names()
    for record, message in cases:
      with self.assertRaisesRegex(ValueError, message):
        objectives.register(record)
    self.assertEqual(objectives.names(), before)

  def test_density_cost_is_the_data_nll(self):
    mle = objectives.get("mle")
    self.assertTrue(mle.needs_density)
    np.testing.assert_array_equal(mle.generator_cost(_batch(LOGITS, jnp.float32(1.5))), 1.5)
    # A cost of the logit alone ignores it.
    self.assertAlmostEqual(
        float(objectives.get("minimax").generator_cost(_batch(jnp.zeros(3), 99.0))),
        -math.log(2.0), places=6)
    self.assertEqual([n for n in objectives.names() if objectives.get(n).needs_density],
                     ["mle"])


class GeneratorObjectivesTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*REFERENCE)
  def test_value_matches_sigmoid_form(self, name):
    value = self.variant(_mean_cost(name))(LOGITS)
    expected = np.mean(REFERENCE[name][0](LOGITS))
    np.testing.assert_allclose(value, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*REFERENCE)
  def test_gradient_matches_derivative(self, name):
    grad = self.variant(jax.grad(_mean_cost(name)))(LOGITS)
    chex.assert_shape(grad, LOGITS.shape)
    expected = REFERENCE[name][1](LOGITS) / LOGITS.size
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-12)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*REFERENCE, least_squares.NAME)
  def test_finite_value_and_gradient_for_extreme_logits(self, name):
    loss = _mean_cost(name)
    value, grad = self.variant(jax.value_and_grad(loss))(EXTREME_LOGITS)
    chex.assert_tree_all_finite((value, grad))
    # Per logit, through vmap, too.
    values = self.variant(jax.vmap(loss))(EXTREME_LOGITS)
    grads = self.variant(jax.vmap(jax.grad(loss)))(EXTREME_LOGITS)
    chex.assert_tree_all_finite((values, grads))
    # Adam squares the gradient: a per-sample weight of exp(80) would make it inf.
    chex.assert_tree_all_finite(grads**2)

  def test_saturation(self):
    # Minimax's gradient vanishes where D(G(z)) -> 0; non-saturating's does not.
    rejected = jnp.float32(-20.0)
    self.assertLess(abs(jax.grad(objectives.minimax)(rejected)), 1e-8)
    np.testing.assert_allclose(jax.grad(objectives.non_saturating)(rejected), -1.0, rtol=1e-6)

  def test_maximum_likelihood_is_linear_above_cap(self):
    cap = objectives.MAX_LIKELIHOOD_LOGIT
    a = jnp.array([cap - 1.0, cap, cap + 1.0, 80.0])
    grads = jax.vmap(jax.grad(objectives.maximum_likelihood))(a)
    np.testing.assert_allclose(grads[0], -np.exp(cap - 1.0), rtol=1e-5)
    np.testing.assert_allclose(grads[1:], -np.exp(cap), rtol=1e-5)
    # Continuous at the cap and exactly tangent beyond it.
    values = objectives.maximum_likelihood(a)
    np.testing.assert_allclose(values[1], -np.exp(cap), rtol=1e-6)
    np.testing.assert_allclose(values[3], -np.exp(cap) * (1.0 + 80.0 - cap), rtol=1e-5)


class BatchCostsTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_self_normalized_weights_are_the_normalized_likelihood_weights(self):
    # Its gradient in the logits is -w / sum(w); the maximum-likelihood cost's is -w / n,
    # w = exp(a): the same direction, rescaled by the batch's mean weight.
    logits = LOGITS / 2
    grad = self.variant(jax.grad(_mean_cost("maximum_likelihood_self_normalized")))(logits)
    weights = np.exp(np.asarray(logits, np.float64))
    np.testing.assert_allclose(grad, -weights / weights.sum(), rtol=1e-5)
    plain = jax.grad(_mean_cost("maximum_likelihood"))(logits)
    np.testing.assert_allclose(grad * weights.mean(), plain, rtol=1e-5)
    # Finite, with a gradient that sums to -1, whatever the logits: the weights are a
    # softmax, which no logit overflows.
    for extreme in (EXTREME_LOGITS, DIVERGED_LOGITS):
      value, grad = self.variant(
          jax.value_and_grad(_mean_cost("maximum_likelihood_self_normalized")))(extreme)
      chex.assert_tree_all_finite((value, grad, grad**2))
      np.testing.assert_allclose(np.sum(grad), -1.0, rtol=1e-5)

  def test_mmd_is_the_sum_of_each_bandwidths_unbiased_mmd(self):
    cost = objectives.get("mmd").generator_cost(_batch(LOGITS))
    # Each kernel's unbiased estimate in float64 from its definition.
    x, y = (np.asarray(v, np.float64) for v in (FAKE, REAL))
    expected = 0.0
    for bandwidth in objectives.MMD_BANDWIDTHS:
      kernel = lambda a, b: np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * bandwidth**2))
      n, m = len(x), len(y)
      expected += ((kernel(x, x).sum() - n) / (n * (n - 1)) + (kernel(y, y).sum() - m)
                   / (m * (m - 1)) - 2 * kernel(x, y).mean())
    np.testing.assert_allclose(cost, expected, rtol=1e-4, atol=1e-6)
    # No discriminator in it: the logits do not matter.
    self.assertEqual(float(objectives.get("mmd").generator_cost(_batch(-LOGITS))), float(cost))

  def test_mmd_gradient_matches_finite_differences_in_float64(self):
    with jax.enable_x64(True):
      fake, real = (np.asarray(v, np.float64)[:12] for v in (FAKE, REAL))
      cost = lambda f: objectives.mixture_mmd2(f, real)
      jax.test_util.check_grads(cost, (fake,), order=1, modes=("rev",), eps=1e-6)

  def test_mmd_pulls_the_samples_towards_the_data(self):
    # Moving every sample along minus its gradient lowers the cost.
    grad = jax.grad(lambda f: objectives.mixture_mmd2(f, REAL))(FAKE)
    before = objectives.mixture_mmd2(FAKE, REAL)
    self.assertLess(float(objectives.mixture_mmd2(FAKE - 0.1 * grad, REAL)), float(before))


class GeneratorCostByIndexTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_selects_the_named_objective(self):
    for index, name in enumerate(BUILT_INS):
      value = self.variant(objectives.generator_cost_by_index, static_argnums=0)(
          BUILT_INS, jnp.int32(index), _batch(LOGITS, jnp.float32(2.5))
      )
      expected = objectives.get(name).generator_cost(_batch(LOGITS, jnp.float32(2.5)))
      np.testing.assert_allclose(value, expected, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_no_nan_or_inf_reaches_another_runs_gradient(self):
    # A batched switch evaluates every branch for every run. Runs whose logits would
    # overflow exp() sit beside runs of the other objectives on the same logits.
    names = (*REFERENCE, "maximum_likelihood_self_normalized")
    index = jnp.repeat(jnp.arange(len(names)), 2)
    extreme = jnp.concatenate([EXTREME_LOGITS, DIVERGED_LOGITS])
    logits = jnp.stack([extreme, -extreme] * len(names))

    def run_grad(i, a):
      return jax.grad(lambda a: objectives.generator_cost_by_index(names, i, _batch(a)))(a)

    grads = self.variant(jax.vmap(run_grad, in_axes=(0, 0)))(index, logits)
    chex.assert_tree_all_finite(grads)
    for run in range(len(index)):
      alone = jax.grad(_mean_cost(names[index[run]]))(logits[run])
      np.testing.assert_array_equal(grads[run], alone)


# Densities on a grid for the optimum and divergence checks: two Gaussians whose log-ratio
# stays within the f-GAN games' exponent caps on [-8, 8].
PAIR_QUADRATURE = divergences.trapezoid(-8.0, 8.0, 16_001)
PAIR_LOG_P = theory.gaussian_log_prob(theory.Gaussian(jnp.float32(0.0), jnp.float32(0.0)),
                                      PAIR_QUADRATURE.points)
PAIR_LOG_Q = theory.gaussian_log_prob(
    theory.Gaussian(jnp.float32(0.5), jnp.float32(math.log(1.2))), PAIR_QUADRATURE.points)
# A quadrature of 16,001 float32 terms: rounding like a random walk, about sqrt(n) eps.
ATOL = 5 * math.sqrt(16_001) * float(np.finfo(np.float32).eps)


class DiscriminatorLossTest(chex.TestCase, parameterized.TestCase):

  @parameterized.parameters(*BUILT_INS, least_squares.NAME)
  def test_optimal_logit_is_the_log_density_ratio(self, name):
    # The loss at one point, p real(a) + q fake(a), is stationary at a = log(p / q): its
    # derivative u real'(a) + fake'(a) vanishes there, u = p / q, for every game.
    loss = objectives.get(name).discriminator_loss
    log_u = jnp.linspace(-8.0, 8.0, 33)
    u = jnp.exp(log_u)
    real, fake = (jax.vmap(jax.grad(term))(log_u) for term in (loss.real, loss.fake))
    # In float32 a term's derivative through D (1 - D) loses the digits of min(D, 1 - D).
    rtol = 16 * float(np.finfo(np.float32).eps) / jax.nn.sigmoid(-jnp.abs(log_u))
    np.testing.assert_array_less(np.abs(u * real + fake), rtol * (u * np.abs(real) + np.abs(fake)))

  @parameterized.parameters(*BUILT_INS, least_squares.NAME)
  def test_minimum_is_the_loss_at_the_optimal_logit(self, name):
    optimum = PAIR_LOG_P - PAIR_LOG_Q
    best = float(theory.best_game_value(name, PAIR_QUADRATURE, PAIR_LOG_P, PAIR_LOG_Q))
    value = lambda logit: float(
        theory.game_value(name, PAIR_QUADRATURE, PAIR_LOG_P, PAIR_LOG_Q, logit))
    self.assertAlmostEqual(value(optimum), best, delta=ATOL * max(1.0, abs(best)))
    for other in (0.5 * optimum, optimum + 0.3, jnp.zeros_like(optimum)):
      self.assertLess(value(other), best - 1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  def test_cross_entropy(self):
    real, fake = LOGITS, -0.5 * LOGITS + 1.0
    value = self.variant(objectives.CROSS_ENTROPY)(real, fake)
    expected = -np.mean(np.log(_sigmoid(real))) - np.mean(np.log(1.0 - _sigmoid(fake)))
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # With p_data = p_G the optimal discriminator is D = 1/2 (a = 0): log 4.
    zeros = jnp.zeros(7)
    np.testing.assert_allclose(objectives.CROSS_ENTROPY(zeros, zeros), np.log(4.0), rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*BUILT_INS, least_squares.NAME)
  def test_finite_for_extreme_logits(self, name):
    loss = objectives.get(name).discriminator_loss
    extreme = jnp.concatenate([EXTREME_LOGITS, DIVERGED_LOGITS])
    value, grads = self.variant(jax.value_and_grad(loss, argnums=(0, 1)))(extreme, -extreme)
    chex.assert_tree_all_finite((value, grads, jax.tree.map(jnp.square, grads)))


class FGanTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*objectives.F_DIVERGENCES)
  def test_bound_matches_f_and_its_conjugate(self, name):
    # -loss = F = E_data[f'(u)] - E_G[u f'(u) - f(u)] with u = exp(a): T(a) = f'(u) and
    # f*(f'(u)) = u f'(u) - f(u), from f alone.
    f, f_prime, _ = F_FUNCTIONS[name]
    real, fake = LOGITS / 4, -LOGITS / 8 + 0.5
    u_real, u_fake = (np.exp(np.asarray(a, np.float64)) for a in (real, fake))
    expected = np.mean(f_prime(u_real)) - np.mean(u_fake * f_prime(u_fake) - f(u_fake))
    value = self.variant(objectives.get(f"f_{name}").discriminator_loss)(real, fake)
    np.testing.assert_allclose(-value, expected, rtol=1e-5, atol=1e-6)

  @parameterized.parameters(*objectives.F_DIVERGENCES)
  def test_divergence_is_the_integral_of_f(self, name):
    # D_f(p || q) = int q f(p / q), in float64 from f alone, against the record's closed form.
    f = F_FUNCTIONS[name][0]
    log_p, log_q = (np.asarray(x, np.float64) for x in (PAIR_LOG_P, PAIR_LOG_Q))
    weights = np.exp(np.asarray(PAIR_QUADRATURE.log_weights, np.float64))
    expected = np.sum(weights * np.exp(log_q) * f(np.exp(log_p - log_q)))
    value = objectives.f_gan(name).divergence(PAIR_QUADRATURE, PAIR_LOG_P, PAIR_LOG_Q)
    self.assertAlmostEqual(float(value), expected, delta=ATOL * max(1.0, expected))
    self.assertIs(objectives.get(f"f_{name}").divergence, objectives.f_gan(name).divergence)

  def test_unknown_divergence_lists_valid_ones(self):
    with self.assertRaisesRegex(ValueError, "'tv'; valid: kl, reverse_kl"):
      objectives.f_gan("tv")


if __name__ == "__main__":
  absltest.main()
