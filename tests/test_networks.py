"""Tests for gan_theory.networks: shapes, parameters, activations, determinism, purity."""

import math
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats
from absl.testing import absltest, parameterized

from gan_theory import networks

LATENT_DIM = 4
DATA_DIM = 2
HIDDEN = (32, 16)


def _normal(seed, shape):
  # Inputs only (no statistics here): numpy keeps the jax sampler from compiling per shape.
  return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _sigmoid(a):
  return 1.0 / (1.0 + np.exp(-a))


# Each activation by its textbook formula, in float64.
REFERENCE_ACTIVATIONS = {
    "relu": lambda a: np.maximum(a, 0.0),
    "leaky_relu": lambda a: np.where(a >= 0, a, 0.01 * a),
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0.0))),
    # The tanh approximation, Flax's default; the erf form differs by up to 5e-4.
    "gelu": lambda a: 0.5 * a * (1.0 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3))),
    "silu": lambda a: a * _sigmoid(a),
    "tanh": np.tanh,
}


def _dense_layers(params):
  """The ``(kernel, bias)`` of each Dense layer, in order, of an MLP or a model around one."""
  mlp = params["params"]
  if "Dense_0" not in mlp:
    (mlp,) = mlp.values()
  return [(mlp[f"Dense_{i}"]["kernel"], mlp[f"Dense_{i}"]["bias"]) for i in range(len(mlp))]


def _reference_forward(params, x, activation):
  """The MLP's forward pass in float64 numpy, with the textbook activation."""
  h = np.asarray(x, np.float64)
  layers = _dense_layers(params)
  formula = REFERENCE_ACTIVATIONS[activation]
  for kernel, bias in layers[:-1]:
    h = formula(h @ np.asarray(kernel, np.float64) + np.asarray(bias, np.float64))
  kernel, bias = layers[-1]
  return h @ np.asarray(kernel, np.float64) + np.asarray(bias, np.float64)


class ShapeTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters((), (3, 5))
  def test_generator_output_shape(self, *batch):
    model = networks.Generator(HIDDEN, DATA_DIM)
    z = _normal(0, (*batch, LATENT_DIM))
    params = model.init(jax.random.key(1), z)
    chex.assert_shape(self.variant(model.apply)(params, z), (*batch, DATA_DIM))

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters((), (3, 5))
  def test_discriminator_returns_logits_without_trailing_one(self, *batch):
    model = networks.Discriminator(HIDDEN)
    x = _normal(0, (*batch, DATA_DIM))
    params = model.init(jax.random.key(1), x)
    chex.assert_shape(self.variant(model.apply)(params, x), batch)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(((),), ((32,),), ((32, 16, 16),))
  def test_mlp_output_shape(self, hidden_sizes):
    # Zero hidden layers is a linear map; three is deeper than the default.
    model = networks.MLP(hidden_sizes, DATA_DIM)
    x = _normal(0, (6, LATENT_DIM))
    params = model.init(jax.random.key(0), x)
    self.assertLen(_dense_layers(params), len(hidden_sizes) + 1)
    chex.assert_shape(self.variant(model.apply)(params, x), (6, DATA_DIM))

  def test_generator_param_shapes(self):
    params = networks.Generator(HIDDEN, DATA_DIM).init(
        jax.random.key(0), jnp.zeros((LATENT_DIM,))
    )
    shapes = [(k.shape, b.shape) for k, b in _dense_layers(params)]
    self.assertEqual(shapes, [((4, 32), (32,)), ((32, 16), (16,)), ((16, 2), (2,))])

  def test_discriminator_param_shapes(self):
    params = networks.Discriminator(HIDDEN).init(jax.random.key(0), jnp.zeros((DATA_DIM,)))
    shapes = [(k.shape, b.shape) for k, b in _dense_layers(params)]
    self.assertEqual(shapes, [((2, 32), (32,)), ((32, 16), (16,)), ((16, 1), (1,))])
    # Nothing but the Dense layers: no stray parameters.
    self.assertEqual(
        jax.tree_util.tree_reduce(lambda n, leaf: n + leaf.size, params, 0),
        (2 * 32 + 32) + (32 * 16 + 16) + (16 + 1),
    )


class ActivationTest(chex.TestCase, parameterized.TestCase):

  def test_registry_matches_reference_formulas(self):
    self.assertEqual(set(networks.ACTIVATIONS), set(REFERENCE_ACTIVATIONS))
    a = np.linspace(-4.0, 4.0, 81)
    for name, formula in REFERENCE_ACTIVATIONS.items():
      value = networks.ACTIVATIONS[name](jnp.asarray(a, jnp.float32))
      np.testing.assert_allclose(value, formula(a), rtol=1e-5, atol=1e-6, err_msg=name)

  @parameterized.parameters(*networks.ACTIVATIONS)
  def test_generator_forward_uses_the_activation(self, activation):
    model = networks.Generator(HIDDEN, DATA_DIM, activation)
    # Unit-scale latents: pre-activations take both signs, where the activations differ.
    z = _normal(0, (16, LATENT_DIM))
    params = model.init(jax.random.key(1), z)
    out = model.apply(params, z)
    chex.assert_tree_all_finite(out)
    expected = _reference_forward(params, z, activation)
    # float32 rounding is ~1e-6 relative; an activation mix-up moves outputs by > 1e-3
    # (test_activations_are_distinguishable).
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)

  @parameterized.parameters(*networks.ACTIVATIONS)
  def test_discriminator_forward_uses_the_activation(self, activation):
    model = networks.Discriminator(HIDDEN, activation)
    x = _normal(0, (16, DATA_DIM))
    params = model.init(jax.random.key(1), x)
    logits = model.apply(params, x)
    expected = _reference_forward(params, x, activation)[:, 0]
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)

  def test_activations_are_distinguishable(self):
    # Guards the two tests above: on these inputs every pair of activations gives a
    # different output, so using the wrong one would be caught.
    z = _normal(0, (16, LATENT_DIM))
    params = networks.Generator(HIDDEN, DATA_DIM).init(jax.random.key(1), z)
    outs = {a: _reference_forward(params, z, a) for a in networks.ACTIVATIONS}
    for a in outs:
      for b in outs:
        if a < b:
          self.assertGreater(np.max(np.abs(outs[a] - outs[b])), 1e-3, msg=(a, b))

  @parameterized.parameters(networks.Generator, networks.Discriminator)
  def test_unknown_activation_names_valid_ones(self, cls):
    kwargs = {"data_dim": DATA_DIM} if cls is networks.Generator else {}
    model = cls(HIDDEN, activation="swish_typo", **kwargs)
    valid = ", ".join(networks.ACTIVATIONS)
    with self.assertRaisesRegex(ValueError, re.escape(valid)):
      model.init(jax.random.key(0), jnp.zeros((DATA_DIM,)))


class DeterminismTest(chex.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      (networks.Generator(HIDDEN, DATA_DIM), LATENT_DIM),
      (networks.Discriminator(HIDDEN), DATA_DIM),
  )
  def test_init_is_deterministic_in_the_key(self, model, in_dim):
    x = jnp.zeros((in_dim,))
    params = model.init(jax.random.key(0), x)
    chex.assert_trees_all_equal(params, model.init(jax.random.key(0), x))
    other = model.init(jax.random.key(1), x)
    chex.assert_trees_all_equal_shapes(params, other)
    # Biases start at zero under either key; every kernel must differ.
    for (kernel, _), (other_kernel, _) in zip(_dense_layers(params), _dense_layers(other)):
      self.assertFalse(np.array_equal(kernel, other_kernel))

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      (networks.Generator(HIDDEN, DATA_DIM), LATENT_DIM),
      (networks.Discriminator(HIDDEN), DATA_DIM),
  )
  def test_apply_is_pure(self, model, in_dim):
    x = _normal(2, (8, in_dim))
    params = model.init(jax.random.key(0), x)
    apply = self.variant(model.apply)
    first = apply(params, x)
    # A call on other inputs in between must leave no trace.
    apply(params, x + 1.0)
    chex.assert_trees_all_equal(first, apply(params, x))
    # And jit or not computes the same function.
    chex.assert_trees_all_close(first, model.apply(params, x), rtol=1e-5, atol=1e-6)
    # The output depends on the parameters it is given, not on anything cached.
    other = model.init(jax.random.key(1), x)
    self.assertFalse(np.allclose(first, apply(other, x)))


def _trained_looking_flow(num_couplings=4, scale=0.2):
  """A flow with every parameter moved away from its identity initialization."""
  flow = networks.RealNVP(DATA_DIM, num_couplings, HIDDEN)
  params = flow.init(jax.random.key(0), jnp.zeros((1, DATA_DIM)))
  leaves, treedef = jax.tree.flatten(params)
  noise = [scale * _normal(10 + i, leaf.shape) for i, leaf in enumerate(leaves)]
  return flow, jax.tree.unflatten(treedef, [leaf + n for leaf, n in zip(leaves, noise)])


def _standard_normal_log_prob(z):
  z = np.asarray(z, np.float64)
  return -0.5 * np.sum(z**2, axis=-1) - 0.5 * z.shape[-1] * np.log(2 * np.pi)


class FlowTest(chex.TestCase, parameterized.TestCase):

  def test_a_new_flow_is_the_identity(self):
    flow = networks.RealNVP(DATA_DIM, 4, HIDDEN)
    z = _normal(0, (16, DATA_DIM))
    params = flow.init(jax.random.key(0), z)
    chex.assert_trees_all_equal(flow.apply(params, z), z)
    np.testing.assert_allclose(
        flow.apply(params, z, method="log_prob"), _standard_normal_log_prob(z), rtol=1e-6
    )

  @chex.variants(with_jit=True, without_jit=True)
  def test_inverse_is_exact(self):
    flow, params = _trained_looking_flow()
    z = _normal(1, (256, DATA_DIM))
    x = self.variant(lambda p, z: flow.apply(p, z))(params, z)
    self.assertGreater(np.max(np.abs(x - z)), 0.1)  # The flow does move points.
    inverse = self.variant(lambda p, x: flow.apply(p, x, method="inverse"))
    z_back, _ = inverse(params, x)
    # float32: a few ulps of |x| per coupling.
    np.testing.assert_allclose(z_back, z, atol=1e-5 * 4 * max(1.0, float(np.max(np.abs(x)))))
    x_back = flow.apply(params, z_back)
    np.testing.assert_allclose(x_back, x, rtol=1e-5, atol=1e-5)

  def test_log_prob_is_change_of_variables_with_the_autodiff_jacobian(self):
    flow, params = _trained_looking_flow()
    x = _normal(2, (32, DATA_DIM))
    to_latent = lambda point: flow.apply(params, point, method="inverse")[0]
    jacobians = jax.vmap(jax.jacfwd(to_latent))(x)
    _, log_det = np.linalg.slogdet(np.asarray(jacobians, np.float64))
    expected = _standard_normal_log_prob(to_latent(x)) + log_det
    np.testing.assert_allclose(flow.apply(params, x, method="log_prob"), expected, atol=1e-4)

  def test_sample_and_log_prob_agrees_with_log_prob(self):
    flow, params = _trained_looking_flow()
    z = _normal(3, (64, DATA_DIM))
    x, log_p = flow.apply(params, z, method="sample_and_log_prob")
    np.testing.assert_allclose(x, flow.apply(params, z), rtol=1e-6)
    np.testing.assert_allclose(log_p, flow.apply(params, x, method="log_prob"), atol=1e-4)

  def test_density_integrates_to_one(self):
    flow, params = _trained_looking_flow()
    # The trapezoid rule on [-10, 10]^2 with step 0.02. It integrates a standard normal to
    # 1 within 1e-6; for this flow, halving the step changes the result by 1e-5, so the
    # rule's own error is far below the 1e-4 allowed.
    axis = np.linspace(-10.0, 10.0, 1001)
    step = axis[1] - axis[0]
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, DATA_DIM)
    weights = np.outer(*(2 * [np.full(axis.size, step) * np.r_[0.5, np.ones(999), 0.5]]))
    def integral(log_density):
      return float(np.sum(weights.ravel() * np.exp(np.asarray(log_density, np.float64))))
    self.assertAlmostEqual(integral(_standard_normal_log_prob(grid)), 1.0, delta=1e-6)
    log_p = jax.jit(lambda x: flow.apply(params, x, method="log_prob"))(grid)
    self.assertAlmostEqual(integral(log_p), 1.0, delta=1e-4)

  def test_each_coupling_keeps_its_parity(self):
    flow, params = _trained_looking_flow(num_couplings=1)
    z = _normal(4, (64, DATA_DIM))
    x = flow.apply(params, z)
    np.testing.assert_array_equal(x[:, 0], z[:, 0])  # Parity 0 keeps coordinate 0.
    self.assertGreater(np.max(np.abs(x[:, 1] - z[:, 1])), 0.1)

  def test_gradients_are_finite(self):
    flow, params = _trained_looking_flow()
    x = 5.0 * _normal(5, (64, DATA_DIM))  # Out in the tails, too.
    z = _normal(6, (64, DATA_DIM))
    grads = jax.grad(lambda p: -jnp.mean(flow.apply(p, x, method="log_prob"))
                     + jnp.mean(flow.apply(p, z) ** 2))(params)
    chex.assert_tree_all_finite(grads)


class GaussianGeneratorTest(chex.TestCase):

  def test_samples_and_density_are_the_diagonal_gaussians(self):
    generator = networks.GaussianGenerator(DATA_DIM)
    z = _normal(7, (64, DATA_DIM))
    params = generator.init(jax.random.key(0), z)
    chex.assert_trees_all_equal(generator.apply(params, z), z)  # N(0, I) to begin with.
    mean, log_std = np.array([0.5, -2.0], np.float32), np.array([0.3, -1.0], np.float32)
    params = {"params": {"mean": jnp.asarray(mean), "log_std": jnp.asarray(log_std)}}
    x, log_p = generator.apply(params, z, method="sample_and_log_prob")
    np.testing.assert_allclose(x, mean + np.exp(log_std) * z, rtol=1e-6)
    expected = np.sum(scipy.stats.norm.logpdf(np.asarray(x, np.float64), mean,
                                              np.exp(log_std.astype(np.float64))), axis=-1)
    np.testing.assert_allclose(log_p, expected, rtol=1e-5)
    np.testing.assert_allclose(generator.apply(params, x, method="log_prob"), expected, rtol=1e-5)


if __name__ == "__main__":
  absltest.main()
