"""Tests for gan_theory.vae: the bounds, the Gaussians and the linear-Gaussian model.

Direct computations are float64 numpy; Monte Carlo checks use fixed seeds and a
tolerance of 4 standard errors.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized

from gan_theory import vae
from gan_theory.metrics import mean_and_stderr

LATENT_DIM, DATA_DIM = 2, 3


def _model() -> vae.LinearGaussian:
  keys = jax.random.split(jax.random.key(0), 2)
  return vae.LinearGaussian(
      weight=jax.random.normal(keys[0], (DATA_DIM, LATENT_DIM)),
      bias=jax.random.normal(keys[1], (DATA_DIM,)),
      log_noise_std=jnp.float32(math.log(0.7)),
  )


def _mismatched_encoder(model: vae.LinearGaussian) -> vae.LinearEncoder:
  """The exact posterior's mean map, a diagonal covariance 1.3 times too wide per unit."""
  posterior = vae.linear_gaussian_posterior(model, jnp.zeros(DATA_DIM))
  covariance = posterior.scale_tril @ posterior.scale_tril.T
  weight = covariance @ model.weight.T / jnp.exp(2 * model.log_noise_std)
  return vae.LinearEncoder(
      weight=weight,
      bias=-weight @ model.bias,
      log_std=jnp.log(1.3 * jnp.sqrt(jnp.diagonal(covariance))),
  )


def _direct_log_prob(mean, covariance, z) -> np.ndarray:
  mean, covariance, z = (np.asarray(a, np.float64) for a in (mean, covariance, z))
  difference = z - mean
  solved = np.linalg.solve(covariance, difference.T).T
  _, log_det = np.linalg.slogdet(covariance)
  return -0.5 * (np.sum(difference * solved, -1) + log_det + len(mean) * math.log(2 * math.pi))


class BoundsTest(parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(0.0, -1e4, 1e4)
  def test_iwae_bound_against_float64(self, centre):
    log_weights = centre + 30.0 * jax.random.normal(jax.random.key(3), (4, 50))
    bound = self.variant(vae.iwae_bound)(log_weights)
    direct = np.asarray(log_weights, np.float64)
    shift = direct.max(axis=-1, keepdims=True)
    expected = shift[:, 0] + np.log(np.mean(np.exp(direct - shift), axis=-1))
    # float32 resolves |centre| = 1e4 to within 1e-3.
    np.testing.assert_allclose(bound, expected, rtol=2e-7, atol=1e-5 + 2e-7 * abs(centre))

  def test_iwae_bound_axis_and_k_of_one(self):
    log_weights = jax.random.normal(jax.random.key(4), (5, 7))
    chex.assert_trees_all_close(vae.iwae_bound(log_weights, axis=0),
                                vae.iwae_bound(log_weights.T, axis=-1))
    chex.assert_trees_all_close(vae.iwae_bound(log_weights[:, :1]), log_weights[:, 0])
    chex.assert_trees_all_close(vae.elbo(log_weights), jnp.mean(log_weights, -1))

  def test_gradients_finite_for_extreme_log_weights(self):
    log_weights = jnp.array([-1e4, -1e4 + 5.0, 1e4, 3e4, -3e4])
    gradient = jax.grad(vae.iwae_bound)(log_weights)
    chex.assert_tree_all_finite(gradient)
    # The gradient is the normalized weights: a softmax.
    chex.assert_trees_all_close(gradient, jax.nn.softmax(log_weights))


class ImportanceEstimatesTest(absltest.TestCase):

  def test_chunked_equals_all_at_once(self):
    def log_weights_of(key):
      return 3.0 * jax.random.normal(key, (25,)) - 50.0

    key = jax.random.key(5)
    estimates = jax.jit(lambda k: vae.importance_estimates(log_weights_of, k, 200, 25))(key)
    flat = jnp.concatenate([log_weights_of(jax.random.fold_in(key, i)) for i in range(8)])
    chex.assert_trees_all_close(estimates.elbo, vae.elbo(flat), rtol=1e-6)
    chex.assert_trees_all_close(estimates.iwae, vae.iwae_bound(flat), rtol=1e-6)

  def test_rejects_a_partial_chunk(self):
    with self.assertRaisesRegex(ValueError, "multiple of chunk_size"):
      vae.importance_estimates(lambda key: jnp.zeros(3), jax.random.key(0), 10, 3)


class GaussianTest(parameterized.TestCase):

  @parameterized.parameters("diagonal", "full")
  def test_log_prob_against_float64(self, covariance):
    keys = jax.random.split(jax.random.key(6), 3)
    mean = jax.random.normal(keys[0], (4,))
    if covariance == "diagonal":
      q = vae.DiagonalGaussian(mean, 0.5 * jax.random.normal(keys[1], (4,)))
      matrix = np.diag(np.exp(2 * np.asarray(q.log_std, np.float64)))
    else:
      # Entries above the diagonal are ignored, and a negative diagonal entry is allowed.
      q = vae.FullCovarianceGaussian(mean, jax.random.normal(keys[1], (4, 4)) + 2 * jnp.eye(4))
      lower = np.tril(np.asarray(q.scale_tril, np.float64))
      matrix = lower @ lower.T
    z = jax.random.normal(keys[2], (6, 4))
    np.testing.assert_allclose(vae.gaussian_log_prob(q, z), _direct_log_prob(mean, matrix, z),
                               rtol=1e-5)

  @parameterized.parameters("diagonal", "full")
  def test_reparameterized_samples_have_the_moments(self, covariance):
    q = vae.DiagonalGaussian(jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.5, 2.0])))
    if covariance == "full":
      q = vae.FullCovarianceGaussian(q.mean, jnp.array([[0.5, 0.0], [1.5, 1.0]]))
    n = 200_000
    z = vae.reparameterize(q, jax.random.normal(jax.random.key(7), (n, 2)))
    mean, stderr = mean_and_stderr(z)
    np.testing.assert_array_less(np.abs(mean - q.mean), 4 * stderr)
    lower = jnp.diag(jnp.exp(q.log_std)) if covariance == "diagonal" else q.scale_tril
    expected = np.asarray(lower @ lower.T)
    # The standard error of a sample covariance of Gaussians: sqrt((S_ij^2 + S_ii S_jj) / n).
    stderr = np.sqrt((expected**2 + np.outer(np.diag(expected), np.diag(expected))) / n)
    np.testing.assert_array_less(np.abs(np.cov(np.asarray(z).T) - expected), 4 * stderr)

  def test_batch_shapes_broadcast(self):
    q = vae.FullCovarianceGaussian(jnp.zeros((3, 2)), jnp.broadcast_to(jnp.eye(2), (3, 2, 2)))
    z = vae.reparameterize(q, jnp.ones((5, 1, 2)))
    chex.assert_shape(z, (5, 3, 2))
    chex.assert_shape(vae.gaussian_log_prob(q, z), (5, 3))

  def test_bernoulli_log_prob_in_logit_space(self):
    logits = jnp.array([-3.0, 0.0, 2.5, 1e4, -1e4])
    x = jnp.array([1.0, 0.0, 1.0, 0.0, 0.0])
    probability = 1 / (1 + np.exp(-np.asarray(logits[:3], np.float64)))
    direct = np.sum(np.where(x[:3] == 1, np.log(probability), np.log1p(-probability)))
    np.testing.assert_allclose(vae.bernoulli_log_prob(logits[:3], x[:3]), direct, rtol=1e-6)
    # x = 0 at logit 1e4 costs 1e4 nats; x = 0 at -1e4 costs nothing. No inf, no NaN.
    np.testing.assert_allclose(vae.bernoulli_log_prob(logits[3:], x[3:]), -1e4, rtol=1e-6)
    chex.assert_tree_all_finite(jax.grad(vae.bernoulli_log_prob)(logits, x))

  def test_active_units(self):
    means = jnp.stack([jnp.linspace(-1, 1, 100), jnp.full(100, 3.0), 0.05 * jnp.sin(
        jnp.arange(100.0))], axis=1)
    self.assertEqual(int(vae.active_units(means)), 1)
    self.assertEqual(int(vae.active_units(means, threshold=1e-4)), 2)


class LinearGaussianTest(absltest.TestCase):

  def test_log_marginal_against_float64(self):
    model = _model()
    x = vae.linear_gaussian_sample(jax.random.key(8), model, 5)
    weight = np.asarray(model.weight, np.float64)
    covariance = weight @ weight.T + 0.49 * np.eye(DATA_DIM)
    np.testing.assert_allclose(vae.linear_gaussian_log_marginal(model, x),
                               _direct_log_prob(model.bias, covariance, x), rtol=1e-5)

  def test_log_marginal_against_monte_carlo_over_the_prior(self):
    # p(x) = E_{p(z)}[p(x | z)]: the mean of n likelihoods, its standard error by the delta
    # method, std / (sqrt(n) mean).
    model = _model()
    x = vae.linear_gaussian_sample(jax.random.key(9), model, 3)
    z = jax.random.normal(jax.random.key(10), (1_000_000, 1, LATENT_DIM))
    log_likelihoods = np.asarray(
        vae.linear_gaussian_log_joint(model, x, z) - vae.standard_normal_log_prob(z), np.float64
    )
    shift = log_likelihoods.max(axis=0)
    likelihoods = np.exp(log_likelihoods - shift)
    estimate = shift + np.log(likelihoods.mean(axis=0))
    stderr = likelihoods.std(axis=0) / (math.sqrt(len(likelihoods)) * likelihoods.mean(axis=0))
    exact = np.asarray(vae.linear_gaussian_log_marginal(model, x))
    np.testing.assert_array_less(np.abs(estimate - exact), 4 * stderr)

  def test_exact_posterior_makes_every_weight_log_p_x(self):
    model = _model()
    x = vae.linear_gaussian_sample(jax.random.key(11), model, 1)[0]
    posterior = vae.linear_gaussian_posterior(model, x)
    weights = vae.log_weights(
        lambda z: vae.linear_gaussian_log_joint(model, x, z), posterior,
        jax.random.normal(jax.random.key(12), (100, LATENT_DIM)) * 3.0,
    )
    np.testing.assert_allclose(weights, vae.linear_gaussian_log_marginal(model, x), rtol=1e-5)

  def test_bounds_rise_with_k_to_log_p_x(self):
    # L_1 < L_2 < L_10 < L_100 <= log p(x): each strictly, by more than 4 standard errors
    # (a mismatched encoder leaves gaps wide enough to see), and the last within 4.
    model = _model()
    encoder = _mismatched_encoder(model)
    x = vae.linear_gaussian_sample(jax.random.key(13), model, 1)[0]
    q = vae.linear_encoder(encoder, x)
    replicates = 20_000

    def bounds(k):
      noise = jax.random.normal(jax.random.fold_in(jax.random.key(14), k),
                                (replicates, k, LATENT_DIM))
      log_joint = lambda z: vae.linear_gaussian_log_joint(model, x, z)  # noqa: E731
      return vae.iwae_bound(jax.vmap(lambda e: vae.log_weights(log_joint, q, e))(noise))

    estimates = [mean_and_stderr(bounds(k)) for k in (1, 2, 10, 100)]
    for (low, low_stderr), (high, high_stderr) in zip(estimates, estimates[1:]):
      self.assertGreater(float(high - low), 4 * math.hypot(low_stderr, high_stderr))
    log_p_x = float(vae.linear_gaussian_log_marginal(model, x))
    mean, stderr = estimates[-1]
    self.assertLess(float(mean), log_p_x + 4 * float(stderr))


def _gradient_replicates(name: str, k: int, replicates: int, seed: int = 20):
  """``replicates`` gradients ``(model, encoder)`` of one point's ``L_k`` estimate by the
  estimator ``name``; replicate ``r`` draws the same noise for every estimator."""
  model = _model()
  encoder = _mismatched_encoder(model)
  x = vae.linear_gaussian_sample(jax.random.key(seed), model, 1)[0]
  noise = jax.random.normal(jax.random.key(seed + 1), (replicates, k, LATENT_DIM))
  gradient = jax.grad(vae.linear_gaussian_bound, argnums=(0, 1))
  return jax.jit(jax.vmap(
      lambda e: gradient(model, encoder, x, e, vae.ENCODER_GRADIENTS[name])
  ))(noise)


def _encoder_difference_in_stderrs(first, second) -> np.ndarray:
  """Every encoder gradient entry's mean difference between two paired sets of
  :func:`_gradient_replicates`, in its standard errors (the model's do not differ)."""
  first, second = first[1], second[1]
  difference = np.concatenate([np.asarray(a - b, np.float64).reshape(len(a), -1)
                               for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second))],
                              axis=1)
  mean, stderr = difference.mean(0), difference.std(0, ddof=1) / math.sqrt(len(difference))
  return np.abs(mean) / stderr


class EncoderGradientTest(parameterized.TestCase):

  @parameterized.parameters("reparameterized", "stl", "dreg")
  def test_value_and_model_gradient_are_the_iwae_bounds(self, name):
    model = _model()
    encoder = _mismatched_encoder(model)
    x = vae.linear_gaussian_sample(jax.random.key(15), model, 1)[0]
    noise = jax.random.normal(jax.random.key(16), (7, LATENT_DIM))
    value, (model_gradient, _) = jax.value_and_grad(vae.linear_gaussian_bound, argnums=(0, 1))(
        model, encoder, x, noise, vae.ENCODER_GRADIENTS[name]
    )
    expected, (expected_model_gradient, _) = jax.value_and_grad(
        vae.linear_gaussian_bound, argnums=(0, 1)
    )(model, encoder, x, noise)
    self.assertEqual(float(value), float(expected))
    chex.assert_trees_all_close(model_gradient, expected_model_gradient, rtol=1e-6, atol=1e-6)

  def test_estimators_as_vmapped_leaves_equal_each_alone(self):
    model = _model()
    encoder = _mismatched_encoder(model)
    x = vae.linear_gaussian_sample(jax.random.key(17), model, 1)[0]
    noise = jax.random.normal(jax.random.key(18), (7, LATENT_DIM))
    gradient = jax.grad(vae.linear_gaussian_bound, argnums=(0, 1))
    names = tuple(vae.ENCODER_GRADIENTS)
    leaves = jax.tree.map(lambda *values: jnp.asarray(values, jnp.float32),
                          *vae.ENCODER_GRADIENTS.values())
    swept = jax.jit(jax.vmap(lambda e: gradient(model, encoder, x, noise, e)))(leaves)
    for index, name in enumerate(names):
      alone = gradient(model, encoder, x, noise, vae.ENCODER_GRADIENTS[name])
      chex.assert_trees_all_close(jax.tree.map(lambda a: a[index], swept), alone,
                                  rtol=1e-5, atol=1e-6)

  def test_stl_and_dreg_vanish_at_the_exact_posterior(self):
    # With q = p(z | x) every log-weight is log p(x), whatever z: the path term is 0, and
    # with it STL's and DReG's gradient, exactly; the reparameterized one keeps the score.
    model = _model()
    x = vae.linear_gaussian_sample(jax.random.key(19), model, 1)[0]
    posterior = vae.linear_gaussian_posterior(model, x)
    noise = jax.random.normal(jax.random.key(20), (5, LATENT_DIM))

    def gradient(name):
      return jax.grad(lambda q: vae.iwae_objective(
          lambda z: vae.linear_gaussian_log_joint(model, x, z), q, noise,
          vae.ENCODER_GRADIENTS[name]))(posterior)

    for name in ("stl", "dreg"):
      chex.assert_trees_all_close(gradient(name), jax.tree.map(jnp.zeros_like, posterior),
                                  atol=1e-5)
    self.assertGreater(float(jnp.max(jnp.abs(gradient("reparameterized").mean))), 0.1)

  def test_dreg_is_stl_at_one_sample(self):
    model_and_encoder = [_gradient_replicates(name, k=1, replicates=3) for name in ("stl", "dreg")]
    chex.assert_trees_all_close(*model_and_encoder, rtol=1e-6, atol=1e-7)

  @parameterized.parameters(("dreg", 8), ("stl", 1))
  def test_unbiased_for_the_iwae_gradient(self, name, k):
    # Paired with the reparameterized gradient (the same noise): every entry's mean
    # difference within 4 standard errors of 0.
    replicates = 20_000
    self.assertLess(np.max(_encoder_difference_in_stderrs(
        _gradient_replicates(name, k, replicates),
        _gradient_replicates("reparameterized", k, replicates),
    )), 4.0)

  def test_stl_is_biased_beyond_one_sample(self):
    # The same comparison finds the bias Tucker et al. (2018) show for STL at k > 1: the
    # test above can fail.
    replicates = 20_000
    self.assertGreater(np.max(_encoder_difference_in_stderrs(
        _gradient_replicates("stl", 8, replicates),
        _gradient_replicates("reparameterized", 8, replicates),
    )), 8.0)

  def test_gradients_finite_far_from_the_posterior(self):
    model = _model()
    encoder = _mismatched_encoder(model)._replace(bias=jnp.full(LATENT_DIM, 300.0))
    x = vae.linear_gaussian_sample(jax.random.key(21), model, 1)[0]
    noise = jax.random.normal(jax.random.key(22), (50, LATENT_DIM))
    for name in vae.ENCODER_GRADIENTS:
      chex.assert_tree_all_finite(jax.grad(vae.linear_gaussian_bound, argnums=(0, 1))(
          model, encoder, x, noise, vae.ENCODER_GRADIENTS[name]))


class MeanFieldTest(absltest.TestCase):

  def test_converges_to_a_diagonal_posterior(self):
    # Orthogonal columns of W make the exact posterior diagonal, so the mean field can
    # reach it: q* = p(z | x), and L[q*] = log p(x).
    model = vae.LinearGaussian(
        weight=jnp.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]),
        bias=jnp.array([0.5, -1.0, 0.0]),
        log_noise_std=jnp.float32(math.log(0.5)),
    )
    x = jnp.array([1.0, 0.3, -0.2])
    posterior = vae.linear_gaussian_posterior(model, x)
    start = vae.DiagonalGaussian(jnp.zeros(LATENT_DIM), jnp.zeros(LATENT_DIM))
    fitted, trace = jax.jit(
        lambda key: vae.fit_mean_field(
            lambda z: vae.linear_gaussian_log_joint(model, x, z), start, key, 2000, 16, 0.02
        )
    )(jax.random.key(15))
    chex.assert_shape(trace, (2000,))
    chex.assert_trees_all_close(fitted.mean, posterior.mean, atol=0.02)
    chex.assert_trees_all_close(jnp.exp(fitted.log_std), jnp.diagonal(posterior.scale_tril),
                                rtol=0.03)
    self.assertGreater(float(jnp.mean(trace[-100:])), float(jnp.mean(trace[:10])))


if __name__ == "__main__":
  absltest.main()
