"""Tests for gan_theory.objectives: values, gradients, stability and isolation under vmap."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized

from gan_theory import objectives

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


class GeneratorObjectivesTest(chex.TestCase, parameterized.TestCase):

  def test_registry_names(self):
    self.assertEqual(
        objectives.GENERATOR_OBJECTIVES,
        ("minimax", "non_saturating", "maximum_likelihood",
         *(f"f_{name}" for name in objectives.F_DIVERGENCES)),
    )
    self.assertCountEqual(objectives.F_DIVERGENCES, F_FUNCTIONS)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*objectives.GENERATOR_OBJECTIVES)
  def test_value_matches_sigmoid_form(self, name):
    value = self.variant(lambda a: objectives.generator_loss(name, a))(LOGITS)
    expected = np.mean(REFERENCE[name][0](LOGITS))
    np.testing.assert_allclose(value, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*objectives.GENERATOR_OBJECTIVES)
  def test_gradient_matches_derivative(self, name):
    grad = self.variant(jax.grad(lambda a: objectives.generator_loss(name, a)))(LOGITS)
    chex.assert_shape(grad, LOGITS.shape)
    expected = REFERENCE[name][1](LOGITS) / LOGITS.size
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-12)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*objectives.GENERATOR_OBJECTIVES)
  def test_finite_value_and_gradient_for_extreme_logits(self, name):
    loss = lambda a: objectives.generator_loss(name, a)
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
    rejected = jnp.array([-20.0])
    self.assertLess(abs(jax.grad(objectives.minimax)(rejected)[0]), 1e-8)
    np.testing.assert_allclose(jax.grad(objectives.non_saturating)(rejected), -1.0, rtol=1e-6)

  def test_maximum_likelihood_is_linear_above_cap(self):
    cap = objectives.MAX_LIKELIHOOD_LOGIT
    a = jnp.array([cap - 1.0, cap, cap + 1.0, 80.0])
    per_logit = jax.vmap(lambda x: objectives.maximum_likelihood(x[None]))
    grads = jax.vmap(jax.grad(lambda x: objectives.maximum_likelihood(x[None])))(a)
    np.testing.assert_allclose(grads[0], -np.exp(cap - 1.0), rtol=1e-5)
    np.testing.assert_allclose(grads[1:], -np.exp(cap), rtol=1e-5)
    # Continuous at the cap and exactly tangent beyond it.
    values = per_logit(a)
    np.testing.assert_allclose(values[1], -np.exp(cap), rtol=1e-6)
    np.testing.assert_allclose(values[3], -np.exp(cap) * (1.0 + 80.0 - cap), rtol=1e-5)

  def test_unknown_name_lists_valid_ones(self):
    with self.assertRaisesRegex(ValueError, "minimax, non_saturating, maximum_likelihood"):
      objectives.generator_loss("wasserstein", LOGITS)


class GeneratorLossByIndexTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_selects_the_named_objective(self):
    names = objectives.GENERATOR_OBJECTIVES
    for index, name in enumerate(names):
      value = self.variant(objectives.generator_loss_by_index, static_argnums=0)(
          names, jnp.int32(index), LOGITS
      )
      np.testing.assert_allclose(value, objectives.generator_loss(name, LOGITS), rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_no_nan_or_inf_reaches_another_runs_gradient(self):
    # A batched switch evaluates every branch for every run. Runs whose logits would
    # overflow exp() sit beside runs of the other objectives on the same logits.
    names = objectives.GENERATOR_OBJECTIVES
    index = jnp.repeat(jnp.arange(len(names)), 2)
    extreme = jnp.concatenate([EXTREME_LOGITS, DIVERGED_LOGITS])
    logits = jnp.stack([extreme, -extreme] * len(names))

    def run_grad(i, a):
      return jax.grad(objectives.generator_loss_by_index, argnums=2)(names, i, a)

    grads = self.variant(jax.vmap(run_grad, in_axes=(0, 0)))(index, logits)
    chex.assert_tree_all_finite(grads)
    for run in range(len(index)):
      alone = jax.grad(lambda a: objectives.generator_loss(names[index[run]], a))(logits[run])
      np.testing.assert_array_equal(grads[run], alone)


class FGanTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*objectives.F_DIVERGENCES)
  def test_bound_matches_f_and_its_conjugate(self, name):
    # F = E_data[f'(u)] - E_G[u f'(u) - f(u)] with u = exp(a): T(a) = f'(u) and
    # f*(f'(u)) = u f'(u) - f(u), from f alone.
    f, f_prime, _ = F_FUNCTIONS[name]
    real, fake = LOGITS / 4, -LOGITS / 8 + 0.5
    u_real, u_fake = (np.exp(np.asarray(a, np.float64)) for a in (real, fake))
    expected = np.mean(f_prime(u_real)) - np.mean(u_fake * f_prime(u_fake) - f(u_fake))
    value = self.variant(objectives.variational_bound, static_argnums=0)(name, real, fake)
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)

  @parameterized.parameters(*objectives.F_DIVERGENCES)
  def test_discriminator_maximizes_the_bound(self, name):
    real, fake = LOGITS, -LOGITS
    loss = objectives.paired_discriminator_loss(f"f_{name}")
    np.testing.assert_allclose(
        loss(real, fake), -objectives.variational_bound(name, real, fake), rtol=1e-6
    )

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*objectives.F_DIVERGENCES)
  def test_finite_for_extreme_logits(self, name):
    loss = objectives.paired_discriminator_loss(f"f_{name}")
    extreme = jnp.concatenate([EXTREME_LOGITS, DIVERGED_LOGITS])
    value, grads = self.variant(jax.value_and_grad(loss, argnums=(0, 1)))(extreme, -extreme)
    chex.assert_tree_all_finite((value, grads, jax.tree.map(jnp.square, grads)))

  def test_the_minimax_games_share_the_cross_entropy(self):
    for name in ("minimax", "non_saturating", "maximum_likelihood"):
      self.assertIs(objectives.paired_discriminator_loss(name), objectives.discriminator_loss)


class DiscriminatorLossTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_matches_binary_cross_entropy(self):
    real, fake = LOGITS, -0.5 * LOGITS + 1.0
    value = self.variant(objectives.discriminator_loss)(real, fake)
    expected = -np.mean(np.log(_sigmoid(real))) - np.mean(np.log(1.0 - _sigmoid(fake)))
    np.testing.assert_allclose(value, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_finite_for_extreme_logits(self):
    value, grads = self.variant(
        jax.value_and_grad(objectives.discriminator_loss, argnums=(0, 1))
    )(EXTREME_LOGITS, EXTREME_LOGITS)
    chex.assert_tree_all_finite((value, grads))

  def test_optimum_is_log4_minus_2jsd_at_equal_distributions(self):
    # With p_data = p_G the optimal discriminator is D = 1/2 (a = 0) everywhere.
    zeros = jnp.zeros(7)
    np.testing.assert_allclose(objectives.discriminator_loss(zeros, zeros), np.log(4.0), rtol=1e-6)


if __name__ == "__main__":
  absltest.main()
