"""Tests for gan_theory.studies.iwae_bounds: the bounds, their gradients, the estimators, fits.

On the linear-Gaussian model ``log p(x)`` and the ELBO have closed forms, and with the exact
posterior as proposal every bound is ``log p(x)``; Monte Carlo checks use fixed seeds and a
tolerance of 4 standard errors.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized

from gan_theory import estimators, vae
from gan_theory.metrics import mean_and_stderr, signal_to_noise_floor
from gan_theory.studies import iwae_bounds
from gan_theory.validation import ConfigError
from tests.tiny import tiny_iwae_bounds_config

# Every test of the bounds, the gradients and compute uses these sizes, with the batch size
# that compute picks, all the replicates at once, and every estimator test these: each
# program compiles once.
DIM, NUM_DATA, REPLICATES, KS, CHUNK = 3, 4, 400, (1, 16), 8
GROUPS = 10  # Of REPLICATES / GROUPS gradient estimates each, for their ratio's spread.
ESTIMATOR_DIM, ESTIMATOR_SAMPLES = 3, 2000
EXACT_STD = math.sqrt(0.5)  # The posterior's standard deviation: the encoder is then exact.


def _problem(encoder_std: float, perturbation: float) -> iwae_bounds.Problem:
  return iwae_bounds.linear_gaussian_problem(
      jax.random.key(1), DIM, NUM_DATA, encoder_std, perturbation
  )


def _mismatched_problem() -> iwae_bounds.Problem:
  """An encoder too wide and off the posterior's mean: wide gaps, large encoder gradients."""
  return _problem(encoder_std=1.0, perturbation=0.3)


def _bounds(problem: iwae_bounds.Problem, k: int) -> jax.Array:
  keys = iwae_bounds.replicate_keys(jax.random.key(10 + k), REPLICATES)
  return iwae_bounds.bound_replicates(
      *problem, keys, num_samples=k, chunk_size=CHUNK, batch_size=REPLICATES
  )


def _gradients(problem: iwae_bounds.Problem, k: int, encoder_gradient: str = "reparameterized"):
  keys = iwae_bounds.replicate_keys(jax.random.key(20 + k), REPLICATES)
  return iwae_bounds.gradient_replicates(
      *problem, keys, num_samples=k, batch_size=REPLICATES,
      encoder_gradient=vae.ENCODER_GRADIENTS[encoder_gradient],
  )


def _tiny_config(**overrides):
  """The tiny config at this file's sizes."""
  return tiny_iwae_bounds_config(
      dim=DIM, num_data=NUM_DATA, num_importance_samples=KS, chunk_size=CHUNK,
      num_replicates=REPLICATES, **{"estimators.dims": (ESTIMATOR_DIM,),
                                    "estimators.num_samples": ESTIMATOR_SAMPLES},
      **overrides,
  )


def _closed_form_elbo(model: vae.LinearGaussian, encoder: vae.LinearEncoder,
                      data: jax.Array) -> jax.Array:
  """``L_1 = E_q[log p(z) + log p(x | z) - log q(z)]`` in closed form, averaged over data."""
  q = vae.linear_encoder(encoder, data)
  variance = jnp.exp(2 * q.log_std)
  latent_dim, data_dim = model.weight.shape[1], model.weight.shape[0]
  log_prior = -0.5 * (latent_dim * math.log(2 * math.pi) + jnp.sum(q.mean**2 + variance, -1))
  residual = data - q.mean @ model.weight.T - model.bias
  noise_variance = jnp.exp(2 * model.log_noise_std)
  log_likelihood = -0.5 * data_dim * (math.log(2 * math.pi) + 2 * model.log_noise_std) - 0.5 * (
      jnp.sum(residual**2, -1) + variance @ jnp.sum(model.weight**2, 0)
  ) / noise_variance
  entropy = jnp.sum(q.log_std, -1) + 0.5 * latent_dim * (1 + math.log(2 * math.pi))
  return jnp.mean(log_prior + log_likelihood + entropy)


class ValidateTest(parameterized.TestCase):

  def test_accepts_the_tiny_config(self):
    iwae_bounds.validate(tiny_iwae_bounds_config())
    iwae_bounds.validate(_tiny_config())

  @parameterized.parameters(
      ("perturbation", -0.1, "perturbation"),
      ("perturbation", True, "perturbation"),
      ("encoder_std", 0.0, "encoder_std"),
      ("num_replicates", 1, "num_replicates"),
      ("num_importance_samples", (1, 750), "num_importance_samples"),
      ("estimators.num_samples", 1, "estimators.num_samples"),
  )
  def test_names_the_bad_field(self, field, value, named):
    config = tiny_iwae_bounds_config()
    *parents, name = field.split(".")
    holder = functools.reduce(getattr, parents, config)
    del holder[name]  # Set afresh: the field's float type would turn True into 1.0.
    holder[name] = value
    with self.assertRaisesRegex(ConfigError, f"config.{named}="):
      iwae_bounds.validate(config)


class ProblemTest(absltest.TestCase):

  def test_unperturbed_encoder_is_the_exact_posterior(self):
    model, encoder, data = _problem(EXACT_STD, 0.0)
    chex.assert_shape(data, (NUM_DATA, DIM))
    for point in data:
      posterior = vae.linear_gaussian_posterior(model, point)
      q = vae.linear_encoder(encoder, point)
      chex.assert_trees_all_close(q.mean, posterior.mean, atol=1e-6)
      chex.assert_trees_all_close(jnp.diag(jnp.exp(q.log_std)), posterior.scale_tril, atol=1e-6)

  def test_perturbation_moves_the_encoder_mean_alone(self):
    exact, perturbed = _problem(EXACT_STD, 0.0), _problem(EXACT_STD, 0.3)
    chex.assert_trees_all_equal((exact.model, exact.data, exact.encoder.log_std),
                                (perturbed.model, perturbed.data, perturbed.encoder.log_std))
    self.assertGreater(float(jnp.max(jnp.abs(perturbed.encoder.weight - exact.encoder.weight))),
                       0.1)


class ReplicatesTest(parameterized.TestCase):

  def test_replicate_keys_are_distinct(self):
    keys = jnp.concatenate([iwae_bounds.replicate_keys(jax.random.key(seed), 50)
                            for seed in (0, 1)])
    self.assertLen(np.unique(np.asarray(jax.random.key_data(keys)), axis=0), 100)

  @parameterized.parameters((100, 1 << 20, 8), (100, 1, 100), (100, 1 << 24, 1), (7, 3, 7))
  def test_batches_hold_at_most_the_floats_allowed(self, replicates, floats, expected):
    batch = iwae_bounds.replicates_per_batch(replicates, floats)
    self.assertEqual(batch, expected)
    self.assertTrue(batch == 1 or batch * floats <= iwae_bounds.MAX_FLOATS_PER_BATCH)


class BoundsTest(absltest.TestCase):

  def test_exact_posterior_makes_every_bound_log_p_x(self):
    # Every importance weight is p(x): each estimate, of any k, chunked or not, is exact.
    problem = _problem(EXACT_STD, 0.0)
    log_p_x = jnp.mean(vae.linear_gaussian_log_marginal(problem.model, problem.data))
    for k in KS:
      chex.assert_trees_all_close(_bounds(problem, k), jnp.full(REPLICATES, log_p_x), rtol=1e-5)

  def test_bounds_rise_with_k_to_log_p_x(self):
    problem = _mismatched_problem()
    log_p_x = float(jnp.mean(vae.linear_gaussian_log_marginal(problem.model, problem.data)))
    estimates = [mean_and_stderr(_bounds(problem, k)) for k in KS]
    # L_1 is the ELBO, whose closed form the mean of its estimates must match.
    mean, stderr = estimates[0]
    self.assertLess(abs(float(mean - _closed_form_elbo(*problem))), 4 * float(stderr))
    for (low, low_stderr), (high, high_stderr) in zip(estimates, estimates[1:]):
      self.assertGreater(float(high - low), 4 * math.hypot(low_stderr, high_stderr))
    mean, stderr = estimates[-1]
    self.assertLess(float(mean), log_p_x + 4 * float(stderr))


class GradientsTest(parameterized.TestCase):

  def test_k_of_one_gives_the_elbo_gradient(self):
    problem = _mismatched_problem()
    gradients = _gradients(problem, 1)
    exact = jax.grad(_closed_form_elbo, argnums=(0, 1))(*problem)
    chex.assert_trees_all_equal_shapes(jax.tree.map(lambda g: g[0], gradients), exact)
    for estimates, expected in zip(jax.tree.leaves(gradients), jax.tree.leaves(exact)):
      mean, stderr = mean_and_stderr(estimates)
      np.testing.assert_array_less(np.abs(mean - expected), 4 * stderr)

  @parameterized.parameters(("reparameterized", -1, (1.0, 0.3)),
                            ("dreg", 1, (math.sqrt(2 / 3), 0.01)))
  def test_snr_rises_for_the_decoder_and_for_the_encoder_as_predicted(
      self, estimator, sign, encoder_std_and_perturbation):
    # Rainforth et al. (2018): the decoder's like sqrt(k), the encoder's reparameterized
    # one like 1/sqrt(k); DReG's rises (Tucker et al. 2018). Each group of replicates gives
    # an independent ratio, so their spread is the standard error, whatever their law. DReG's
    # encoder near its optimum, as in their analysis (far from it, its ratio falls too);
    # the reparameterized one's far enough that 400 replicates resolve its ratio at k = 16.
    problem = _problem(*encoder_std_and_perturbation)

    def group_ratios(k):
      gradients = jax.tree.map(lambda g: g.reshape(GROUPS, -1, *g.shape[1:]),
                               _gradients(problem, k, estimator))
      per_entry = jax.vmap(iwae_bounds.gradient_snr)(gradients)
      return {key: mean_and_stderr(jnp.mean(v.reshape(GROUPS, -1), axis=1))
              for key, v in per_entry.items()}

    few, many = (group_ratios(k) for k in KS)
    self.assertCountEqual(few, [(part, name) for part, names in iwae_bounds.PARAMETERS.items()
                                for name in names])
    for part, sign in (("decoder", 1), ("encoder", sign)):
      for name in ("weight", "bias"):
        (low, low_stderr), (high, high_stderr) = few[part, name], many[part, name]
        with self.subTest(part=part, name=name):
          self.assertGreater(sign * float(high - low), 4 * math.hypot(low_stderr, high_stderr))


class EstimatorsTest(parameterized.TestCase):

  @parameterized.parameters("diagonal", "full")
  def test_quadratic_problem(self, covariance):
    q, hessian, centre = iwae_bounds.quadratic_problem(jax.random.key(2), covariance, 5)
    chex.assert_shape(centre, (5,))
    chex.assert_trees_all_close(hessian, hessian.T)
    # F F^T / d + I / 2: no eigenvalue under 1/2.
    self.assertGreater(float(jnp.min(jnp.linalg.eigvalsh(hessian))), 0.5 - 1e-5)
    if covariance == "full":
      chex.assert_trees_all_equal(q.scale_tril, jnp.tril(q.scale_tril))
      chex.assert_trees_all_close(jnp.diagonal(q.scale_tril), jnp.ones(5))
    else:
      self.assertIsInstance(q, vae.DiagonalGaussian)

  @parameterized.parameters("diagonal", "full")
  def test_moments_against_float64(self, covariance):
    dim, num_samples = ESTIMATOR_DIM, ESTIMATOR_SAMPLES
    problem = iwae_bounds.quadratic_problem(jax.random.key(3), covariance, dim)
    noise = jax.random.normal(jax.random.key(4), (num_samples, dim))
    moments = iwae_bounds.estimator_moments(problem, noise)
    q, hessian, centre = problem
    quadratic = lambda z: 0.5 * (z - centre) @ hessian @ (z - centre)  # noqa: E731
    per_sample = {
        "pathwise": estimators.pathwise_gradients(quadratic, vae.reparameterize, q, noise),
        "score_function": estimators.score_function_gradients(
            quadratic, vae.gaussian_log_prob, q, vae.reparameterize(q, noise)),
    }
    exact = estimators.quadratic_gradient(q, hessian, centre)
    expected_keys = sorted((e, n) for e in iwae_bounds.ESTIMATORS for n in q._fields)
    self.assertEqual(list(moments), expected_keys)
    for estimator, name in expected_keys:
      values = np.asarray(getattr(per_sample[estimator], name), np.float64)
      values = values.reshape(num_samples, -1)
      expected = np.ravel(getattr(exact, name))
      if name == "scale_tril":  # The lower triangle, diagonal included, row by row.
        read = [i * dim + j for i in range(dim) for j in range(i + 1)]
        values, expected = values[:, read], expected[read]
      z = (values.mean(0) - expected) / (values.std(0, ddof=1) / math.sqrt(num_samples))
      got = moments[estimator, name]
      with self.subTest(estimator=estimator, name=name):
        self.assertEqual(int(got.entries), dim * (dim + 1) // 2 if name == "scale_tril" else dim)
        np.testing.assert_allclose(got.variance_per_entry, np.mean(values.var(0, ddof=1)),
                                   rtol=1e-4)
        np.testing.assert_allclose(got.sum_z_squared, np.sum(z**2), rtol=1e-3)

  @parameterized.parameters("diagonal", "full")
  def test_pathwise_variance_of_the_mean_gradient(self, covariance):
    # Per sample it is A (z - c), of covariance A Sigma A: its variance is known exactly. A
    # sample variance of Gaussians has standard error sigma^2 sqrt(2 / (n - 1)); that of
    # the mean over entries is at most the mean of theirs.
    dim, num_samples = ESTIMATOR_DIM, ESTIMATOR_SAMPLES
    problem = iwae_bounds.quadratic_problem(jax.random.key(5), covariance, dim)
    noise = jax.random.normal(jax.random.key(6), (num_samples, dim))
    q, hessian, _ = problem
    scale = jnp.diag(jnp.exp(q.log_std)) if covariance == "diagonal" else jnp.tril(q.scale_tril)
    exact = float(jnp.mean(jnp.diagonal(hessian @ scale @ scale.T @ hessian)))
    measured = float(
        iwae_bounds.estimator_moments(problem, noise)["pathwise", "mean"].variance_per_entry
    )
    self.assertLess(abs(measured - exact), 4 * exact * math.sqrt(2 / (num_samples - 1)))


class FitsTest(parameterized.TestCase):

  def test_fit_power_law_over_the_kept_points(self):
    x = np.array([1.0, 10.0, 100.0, 1000.0])
    y = 2.0 * x**-0.5
    y[0] = 100.0  # Off the law, and left out.
    keep = np.array([False, True, True, True])
    fit = iwae_bounds.fit_power_law(x, y, keep)
    self.assertAlmostEqual(fit.exponent, -0.5, places=10)
    np.testing.assert_array_equal(fit.kept, keep)
    self.assertTrue(math.isnan(iwae_bounds.fit_power_law(x, y, x == 10.0).exponent))

  @parameterized.parameters(((1, 2, 5, 10, 50), 10), ((1, 10), 1), ((2, 5), 2), ((20, 50), 10))
  def test_fit_start(self, ks, expected):
    self.assertEqual(iwae_bounds.fit_start(np.array(ks)), expected)

  def test_summarize_bounds(self):
    # Gaps of exactly 1/k: two estimates each, mean -1/k and standard error 0.001.
    ks = np.array([1, 10, 100, 1000])
    bounds = jnp.asarray(-1.0 / ks[:, None] + np.array([[0.001, -0.001]]), jnp.float32)
    summary = iwae_bounds.summarize_bounds(ks, bounds, jnp.float32(0.0), fit_from=10)
    np.testing.assert_allclose(summary.mean, -1.0 / ks, rtol=1e-5)
    np.testing.assert_allclose(summary.stderr, 0.001, rtol=1e-3)
    np.testing.assert_allclose(summary.gap, 1.0 / ks, rtol=1e-5)
    np.testing.assert_allclose(summary.step, np.diff(-1.0 / ks), rtol=1e-5)
    np.testing.assert_allclose(summary.step_stderr, math.sqrt(2) * 0.001, rtol=1e-3)
    self.assertTrue(summary.ordered)
    # k = 1 is before fit_from; k = 1000's gap, 0.001, is under 3 standard errors.
    np.testing.assert_array_equal(summary.gap_fit.kept, [False, True, True, False])
    self.assertAlmostEqual(summary.gap_fit.exponent, -1.0, places=4)

  @parameterized.parameters(
      ("a bound falls", [[-1.0, -1.0], [-2.0, -2.002]], 0.0),
      ("the last exceeds log p(x)", [[-1.0, -1.002], [-0.5, -0.502]], -0.6),
  )
  def test_summarize_bounds_unordered(self, _, bounds, log_p_x):
    summary = iwae_bounds.summarize_bounds(
        np.array([1, 2]), jnp.asarray(bounds), jnp.float32(log_p_x), fit_from=1
    )
    self.assertFalse(summary.ordered)

  def test_summarize_snr(self):
    ks, replicates = np.array([1, 10, 100]), 50
    floor = signal_to_noise_floor(replicates)
    rising = np.sqrt(ks)[:, None] * np.array([[1.0, 3.0]])  # Means 2 sqrt(k).
    flat = np.full((3,), 2 * floor)  # Under 3 floors: noise.
    bias, noise = ("dreg", "decoder", "bias"), ("dreg", "decoder", "log_noise_std")
    summary = iwae_bounds.summarize_snr(ks, {bias: rising, noise: flat}, replicates, 1)
    self.assertAlmostEqual(summary.floor, floor)
    np.testing.assert_allclose(summary.mean[bias], 2 * np.sqrt(ks))
    np.testing.assert_array_equal(summary.above_floor[noise], False)
    self.assertAlmostEqual(summary.fits[bias].exponent, 0.5, places=10)
    self.assertTrue(math.isnan(summary.fits[noise].exponent))

  def test_summarize_estimator(self):
    dims = np.array([1, 2, 4, 8])
    moments = iwae_bounds.EstimatorMoments(
        variance_per_entry=3.0 * dims**1.5, sum_z_squared=np.array([0.5, 1.5, 4.0, 6.0]),
        entries=dims,
    )
    summary = iwae_bounds.summarize_estimator(dims, moments)
    self.assertAlmostEqual(summary.variance_exponent, 1.5, places=10)
    self.assertAlmostEqual(summary.mean_z_squared, 12.0 / 15.0)
    self.assertAlmostEqual(summary.mean_z_squared_spread, math.sqrt(2 / 15))
    one = iwae_bounds.summarize_estimator(dims[:1], jax.tree.map(lambda v: v[:1], moments))
    self.assertTrue(math.isnan(one.variance_exponent))


class ComputeTest(absltest.TestCase):

  def test_exact_posterior_config(self):
    config = _tiny_config(perturbation=0.0, encoder_std=EXACT_STD)
    results = iwae_bounds.compute(config)
    np.testing.assert_array_equal(results.ks, KS)
    # Every estimate of every bound is log p(x), whatever k and chunking.
    chex.assert_trees_all_close(results.bounds, jnp.full((len(KS), REPLICATES), results.log_p_x),
                                rtol=1e-5)
    self.assertTrue(results.bound_summary.ordered)
    self.assertEqual(results.fit_from, 1)
    self.assertEqual(list(results.snr.per_entry), [
        (estimator, part, name) for estimator in config.encoder_gradients
        for part, names in iwae_bounds.PARAMETERS.items() for name in names
    ])
    chex.assert_shape(results.snr.per_entry["dreg", "encoder", "weight"], (len(KS), DIM, DIM))
    chex.assert_shape(results.snr.per_entry["stl", "decoder", "log_noise_std"], (len(KS),))
    # The same draws for every estimator: the decoder's ratios are the same.
    for name in iwae_bounds.PARAMETERS["decoder"]:
      chex.assert_trees_all_close(results.snr.per_entry["dreg", "decoder", name],
                                  results.snr.per_entry["reparameterized", "decoder", name],
                                  rtol=1e-4)
    # Per covariance, (estimator, parameter) sorted: the order of estimator_variance.csv.
    self.assertEqual(list(results.moments), [
        ("diagonal", "pathwise", "log_std"), ("diagonal", "pathwise", "mean"),
        ("diagonal", "score_function", "log_std"), ("diagonal", "score_function", "mean"),
        ("full", "pathwise", "mean"), ("full", "pathwise", "scale_tril"),
        ("full", "score_function", "mean"), ("full", "score_function", "scale_tril"),
    ])
    np.testing.assert_array_equal(results.moments["full", "pathwise", "scale_tril"].entries,
                                  [ESTIMATOR_DIM * (ESTIMATOR_DIM + 1) // 2])
    self.assertEqual(list(results.estimator_summaries), list(results.moments))


if __name__ == "__main__":
  absltest.main()
