"""Tests for gan_theory.studies.theory: the theory experiment's computation from its config.

The maths (the identities, the estimators) is tested in tests/test_theory.py; these test what
the study adds: the problem read from the config, the noise, the batching over sizes, seeds
and objectives (each value where it belongs), and the reductions over seeds, on small problems
and on arrays whose reductions are known.
"""

import math
import re

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl.testing import absltest, parameterized

from experiments.configs import theory as theory_config
from gan_theory import divergences, objectives, theory
from gan_theory.distributions import GaussianMixture
from gan_theory.studies import theory as study
from gan_theory.validation import ConfigError
from tests import bad_inputs
from tests.tiny import tiny_theory_config

NUM_POINTS = 3001  # The tiny config's quadrature.
# Quadrature sums NUM_POINTS float32 terms of size at most ~1: their rounding errors add up
# like a random walk, to about sqrt(n) * eps. Allow five times that.
ATOL = 5 * math.sqrt(NUM_POINTS) * float(np.finfo(np.float32).eps)
# float32 rounding of a few operations on values of order 1 (about 100 eps).
RTOL = 1e-5
NAMES = ("minimax", "maximum_likelihood")


def assert_leaves_shape(tree, shape: tuple[int, ...]) -> None:
  """Every array of a (nested) named tuple has ``shape``."""
  chex.assert_shape(jax.tree.leaves(tree), shape)


def small_config(**overrides) -> ml_collections.ConfigDict:
  """The tiny config, smaller still: two sizes and seeds, two short-trained discriminators."""
  config = tiny_theory_config(
      objectives=NAMES, num_samples=(10, 100), num_seeds=2, first_seed=3,
      **{"discriminator.num_steps": 4, "discriminator.eval_every": 2,
         "discriminator.hidden_sizes": (4,)},
  )
  config.update_from_flattened_dict(overrides)
  return config


class ValidateTest(parameterized.TestCase):

  def test_accepts_the_default_and_tiny_configs(self):
    study.validate(theory_config.get_config())
    study.validate(small_config())

  @parameterized.named_parameters(
      *bad_inputs.THEORY_BAD_INPUTS,
      ("cost_without_logit", {"objectives": ("minimax", "mle")},
       "includes 'mle', which is not a cost of the discriminator's logit"),
      ("negative_first_seed", {"first_seed": -1},
       "config.first_seed=-1 must be a non-negative integer"),
      ("boolean_mode", {"data_modes": (True, 2.0)}, "must be a non-empty list of numbers"),
  )
  def test_names_the_bad_field(self, overrides, message):
    config = theory_config.get_config()
    config.update_from_flattened_dict(overrides)
    with self.assertRaisesRegex(ConfigError, re.escape(message)):
      study.validate(config)


class ProblemTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.problem = study.make_problem(small_config())

  def test_reads_the_config(self):
    np.testing.assert_array_equal(self.problem.data.modes, [[-2.0], [2.0]])
    self.assertEqual(self.problem.data.std, 0.5)
    self.assertEqual(float(self.problem.theta0.mean), 0.5)
    self.assertAlmostEqual(float(jnp.exp(self.problem.theta0.log_std)), 1.5, delta=RTOL)
    points = self.problem.quadrature.points
    self.assertEqual((float(points[0]), float(points[-1])), (-15.0, 15.0))
    chex.assert_shape(self.problem.quadrature, (NUM_POINTS,))

  def test_densities_integrate_to_one(self):
    # Both densities are smooth and negligible beyond the interval: the trapezoid rule is
    # exact to float32 rounding. A mixture missing its 1/K or a mode would be off by far more.
    for log_p in self.problem.log_densities():
      chex.assert_shape(log_p, (NUM_POINTS,))
      total = divergences.expectation(self.problem.quadrature, log_p, jnp.ones(NUM_POINTS))
      self.assertAlmostEqual(float(total), 1.0, delta=ATOL)

  def test_log_p_data_is_the_mixture(self):
    x = np.linspace(-4.0, 4.0, 17)
    p = 0.5 * (np.exp(-((x + 2) ** 2) / 0.5) + np.exp(-((x - 2) ** 2) / 0.5)) / math.sqrt(
        2 * math.pi * 0.25
    )
    np.testing.assert_allclose(
        np.exp(self.problem.log_p_data(jnp.asarray(x, jnp.float32))), p, rtol=RTOL
    )

  def test_sample_data_draws_from_the_mixture(self):
    # Mean 0 and variance 2^2 + 0.5^2 = 4.25: within four standard errors of each. The
    # variance of x^2 is E x^4 - 4.25^2 = 16 + 6 * 4 * 0.25 + 3 * 0.25^2 - 4.25^2 = 4.125.
    n = 4000
    samples = self.problem.sample_data(jax.random.key(0), n)
    chex.assert_shape(samples, (n,))
    self.assertLess(abs(float(jnp.mean(samples))), 4 * math.sqrt(4.25 / n))
    self.assertLess(abs(float(jnp.mean(samples**2)) - 4.25), 4 * math.sqrt(4.125 / n))


class NoiseTest(absltest.TestCase):

  def test_a_seed_draws_the_same_whichever_seeds_run_beside_it(self):
    together = study.noise(np.array([3, 4, 5]), 10)
    chex.assert_shape(together, (3, 10))
    for index, seed in enumerate((3, 4, 5)):
      np.testing.assert_array_equal(together[index], study.noise(np.array([seed]), 10)[0])

  def test_seeds_and_sizes_draw_afresh(self):
    small, large = study.noise(np.array([0, 1]), 10), study.noise(np.array([0, 1]), 100)
    # Two independent normals agree to 1e-6 with chance below 1e-6: none of these 30 pairs.
    self.assertFalse(np.any(np.abs(small[0] - small[1]) < 1e-6))
    self.assertFalse(np.any(np.abs(small - large[:, :10]) < 1e-6))

  def test_standard_normal(self):
    # 3 x 2000 draws: mean 0 and variance 1 within four standard errors (1 / sqrt(n) and
    # sqrt(2 / n)).
    draws = np.asarray(study.noise(np.array([0, 1, 2]), 2000)).ravel()
    self.assertLess(abs(draws.mean()), 4 / math.sqrt(draws.size))
    self.assertLess(abs(draws.var() - 1.0), 4 * math.sqrt(2 / draws.size))


class GradientChecksBySizeTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.problem = study.make_problem(small_config())
    cls.sizes, cls.seeds = np.array([10, 100]), np.array([3, 4])
    cls.messages = []
    cls.checks = study.gradient_checks_by_size(
        NAMES, cls.problem, cls.sizes, cls.seeds, cls.messages.append
    )

  def test_shapes_and_progress(self):
    chex.assert_tree_shape_prefix(self.checks, (2, 2, 2))
    chex.assert_tree_all_finite(self.checks)
    self.assertEqual(self.messages, ["10 samples: done", "100 samples: done"])

  def test_each_entry_checks_its_seed_and_size(self):
    # [size, seed, objective] holds gradient_checks of that seed's noise at that size, up to
    # float32 rounding of the same sums batched differently.
    one = jax.jit(lambda noise: theory.gradient_checks(
        NAMES, self.problem.log_p_data, self.problem.theta0, self.problem.quadrature, noise
    ))
    for i, n in enumerate(self.sizes):
      for s, seed in enumerate(self.seeds):
        expected = one(study.noise(np.array([seed]), int(n))[0])
        chex.assert_trees_all_close(
            jax.tree.map(lambda field: field[i, s], self.checks), expected, rtol=RTOL, atol=ATOL
        )

  def test_exact_side_is_the_same_everywhere(self):
    # It does not read the noise; the two costs' divergences differ (JSD and KL).
    for field in self.checks.exact:
      np.testing.assert_allclose(field, np.broadcast_to(field[0, 0], field.shape), atol=ATOL)
      self.assertGreater(abs(float(field[0, 0, 0] - field[0, 0, 1])), 0.05)


def _gaussian(*arrays) -> theory.Gaussian:
  return theory.Gaussian(*(np.asarray(a, np.float32) for a in arrays))


def _checks(exact, pathwise, pathwise_stderr, score, score_stderr) -> theory.GradientCheck:
  """A GradientCheck whose log_std fields are twice its mean fields."""
  return theory.GradientCheck(*(_gaussian(a, 2 * np.asarray(a)) for a in (
      exact, pathwise, pathwise_stderr, score, score_stderr)))


class SummariesTest(absltest.TestCase):
  """The reductions over seeds, on [sizes=2, seeds=3, objectives=1] arrays of known results."""

  def setUp(self):
    super().setUp()
    exact = np.ones((2, 3, 1))
    # Errors (1, -2, 2) and (0, 0, 3) over the seeds; the score function's are half.
    errors = np.array([[1.0, -2.0, 2.0], [0.0, 0.0, 3.0]])[..., None]
    # Reported standard errors sqrt(v / n) for per-sample variances v = 4, 16, 36.
    self.sizes = np.array([10, 1000])
    variances = np.array([4.0, 16.0, 36.0])[None, :, None]
    stderrs = np.sqrt(variances / self.sizes[:, None, None])
    self.checks = _checks(exact, exact + errors, stderrs, exact + errors / 2, 3 * stderrs)

  def test_rms_errors(self):
    rms = study.rms_errors(self.checks)
    expected = np.array([math.sqrt(3.0), math.sqrt(3.0)])[:, None]
    np.testing.assert_allclose(rms.pathwise.mean, expected, rtol=RTOL)
    np.testing.assert_allclose(rms.pathwise.log_std, 2 * expected, rtol=RTOL)
    np.testing.assert_allclose(rms.score_function.mean, expected / 2, rtol=RTOL)

  def test_reported_stderrs(self):
    stderrs = study.reported_stderrs(self.checks)
    expected = (2 + 4 + 6) / 3 / np.sqrt(self.sizes)[:, None]
    np.testing.assert_allclose(stderrs.pathwise.mean, expected, rtol=RTOL)
    np.testing.assert_allclose(stderrs.score_function.log_std, 6 * expected, rtol=RTOL)

  def test_over_seeds(self):
    # Estimates (2, -1, 3) and (1, 1, 4): means 4/3 and 2, standard deviations sqrt(13/3)
    # and sqrt(3) over three seeds.
    summary = study.over_seeds(self.checks)
    np.testing.assert_allclose(summary.mean.pathwise.mean, [[4 / 3], [2.0]], rtol=RTOL)
    np.testing.assert_allclose(
        summary.stderr.pathwise.mean, [[math.sqrt(13 / 9)], [1.0]], rtol=RTOL
    )
    # The score function's log_std estimates: 2 + the errors, (3, 0, 4) and (2, 2, 5).
    np.testing.assert_allclose(summary.mean.score_function.log_std, [[7 / 3], [3.0]], rtol=RTOL)

  def test_per_sample_variances_and_their_ratio(self):
    variances = study.per_sample_variances(self.checks, self.sizes)
    # The same v at every n: (4 + 16 + 36) / 3, nine times that for the score function.
    np.testing.assert_allclose(variances.pathwise.mean, np.full((2, 1), 56 / 3), rtol=RTOL)
    np.testing.assert_allclose(variances.pathwise.log_std, np.full((2, 1), 4 * 56 / 3), rtol=RTOL)
    ratios = study.variance_ratios(variances)
    np.testing.assert_allclose(ratios.mean, np.full((2, 1), 9.0), rtol=RTOL)

  def test_error_exponents(self):
    # Errors c n^b exactly give b, to rounding; one column per objective.
    sizes = np.array([10, 100, 1000, 10_000])
    errors = _gaussian(
        np.stack([3 * sizes**-0.5, 0.1 * sizes**-1.0], axis=1), np.stack([sizes**0.0] * 2, 1)
    )
    exponents = study.error_exponents(sizes, study.ByEstimator(errors, errors))
    np.testing.assert_allclose(exponents.pathwise.mean, [-0.5, -1.0], rtol=RTOL)
    np.testing.assert_allclose(exponents.score_function.log_std, [0.0, 0.0], atol=RTOL)

  def test_distance_curves(self):
    # [objectives=2, seeds=2, evaluations=3]: the mean and standard error over axis 1.
    values = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    distances = theory.DistanceToOptimum(values, 2 * values, -values)
    mean, stderr = study.distance_curves(distances)
    assert_leaves_shape((mean, stderr), (2, 3))
    np.testing.assert_allclose(mean.under_data, [[1.5, 2.5, 3.5], [7.5, 8.5, 9.5]], rtol=RTOL)
    # Two values 6 apart: standard deviation 6 / sqrt(2), over sqrt(2) seeds: 3.
    np.testing.assert_allclose(stderr.under_generator, np.full((2, 3), 3.0), rtol=RTOL)
    np.testing.assert_allclose(mean.value_gap, -mean.under_data, rtol=RTOL)


class ValueIdentityTest(absltest.TestCase):

  def test_both_sides_agree(self):
    identity = study.value_identity(study.make_problem(small_config()))
    self.assertEqual(identity.divergence_side, 2 * identity.jsd - math.log(4))
    self.assertEqual(identity.difference, identity.value - identity.divergence_side)
    self.assertLess(abs(identity.difference), ATOL)
    self.assertBetween(float(identity.jsd), 0.01, math.log(2) - 0.01)  # Not a degenerate pair.


class FGanBoundsTest(absltest.TestCase):

  def test_tight_at_the_optimal_logit_and_below_it_elsewhere(self):
    # N(0, 1) against N(0.5, 1.2^2) on [-8, 8]: a* lies in [-13, 0.5], within every game's
    # clipping, so F(a*) = D_f to quadrature rounding.
    problem = study.Problem(
        GaussianMixture(modes=jnp.zeros((1, 1)), std=1.0),
        theory.Gaussian(mean=jnp.float32(0.5), log_std=jnp.float32(math.log(1.2))),
        divergences.trapezoid(-8.0, 8.0, NUM_POINTS),
    )
    bounds = study.f_gan_bounds(problem)
    chex.assert_shape(bounds, (len(objectives.F_DIVERGENCES),))
    tolerance = ATOL * np.maximum(1.0, bounds.divergence)
    np.testing.assert_array_less(np.abs(bounds.at_optimum - bounds.divergence), tolerance)
    np.testing.assert_array_less(bounds.at_half_optimum, bounds.divergence - 1e-3)
    np.testing.assert_array_less(bounds.at_shifted_optimum, bounds.divergence - 1e-3)

  def test_in_the_order_of_the_divergences(self):
    # Jensen-Shannon's D_f is 2 JSD and the KL game's is KL(p_data || p_G): each in its row.
    problem = study.make_problem(small_config())
    bounds = study.f_gan_bounds(problem)
    log_p_data, log_p_generator = problem.log_densities()
    row = objectives.F_DIVERGENCES.index
    self.assertAlmostEqual(
        bounds.divergence[row("jensen_shannon")],
        2 * float(study.value_identity(problem).jsd), delta=ATOL,
    )
    self.assertAlmostEqual(
        bounds.divergence[row("kl")],
        float(divergences.kl_divergence(problem.quadrature, log_p_data, log_p_generator)),
        delta=ATOL,
    )


class CostCurvesTest(absltest.TestCase):

  def test_each_cost_against_d(self):
    curves = study.cost_curves(NAMES)
    self.assertLen(curves.discriminator_outputs, 999)
    np.testing.assert_allclose(curves.discriminator_outputs[[0, 499, -1]], [0.001, 0.5, 0.999])
    # The curves are of D in float32; near D = 1, 1 - D carries its rounding.
    d = curves.discriminator_outputs.astype(np.float32).astype(np.float64)
    chex.assert_shape((curves.costs, curves.derivatives), (2, 999))
    # Minimax: log(1 - D), derivative -D; maximum likelihood: derivative -D / (1 - D).
    np.testing.assert_allclose(curves.costs[0], np.log1p(-d), rtol=RTOL)
    np.testing.assert_allclose(curves.derivatives[0], -d, rtol=RTOL)
    np.testing.assert_allclose(curves.derivatives[1], -d / (1 - d), rtol=RTOL)


class DiscriminatorTest(absltest.TestCase):

  def test_steps(self):
    np.testing.assert_array_equal(study.discriminator_steps(20, 10), [0, 10, 20])
    np.testing.assert_array_equal(study.discriminator_steps(3, 1), [0, 1, 2, 3])

  def test_each_objective_and_seed_in_its_place(self):
    config = small_config(**{"discriminator.objectives": ("minimax", "f_kl")})
    messages = []
    distances = study.discriminator_distances(
        study.make_problem(config), config.discriminator, np.array([3, 4]), messages.append
    )
    chex.assert_shape(distances, (2, 2, 3))  # [objectives, seeds, steps 0, 2 and 4]
    chex.assert_tree_all_finite(distances)
    self.assertEqual(messages, ["2 discriminators for minimax trained",
                                "2 discriminators for f_kl trained"])
    for values in distances[:2]:
      self.assertTrue(np.all((values >= 0) & (values <= 1)), values)
    self.assertTrue(np.all(distances.value_gap >= -ATOL), distances.value_gap)
    # At step 0 a seed's network is its initialization alone: the same distance to D* for
    # both objectives, and another for the other seed; the objectives' gaps differ.
    for values in distances[:2]:
      np.testing.assert_allclose(values[0, :, 0], values[1, :, 0], rtol=RTOL)
      self.assertGreater(abs(float(values[0, 0, 0] - values[0, 1, 0])), 1e-4)
    self.assertGreater(abs(float(distances.value_gap[0, 0, 0] - distances.value_gap[1, 0, 0])),
                       1e-2)


class ComputeTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.config = small_config()
    cls.messages = []
    cls.results = study.compute(cls.config, cls.messages.append)

  def test_every_array_in_its_shape(self):
    r = self.results
    np.testing.assert_array_equal(r.num_samples, [10, 100])
    np.testing.assert_array_equal(r.seeds, [3, 4])
    chex.assert_tree_shape_prefix(r.checks, (2, 2, 2))  # [sizes, seeds, objectives]
    assert_leaves_shape(
        (r.rms_errors, r.reported_stderrs, r.over_seeds, r.variances, r.variance_ratios), (2, 2)
    )
    assert_leaves_shape(r.error_exponents, (2,))
    chex.assert_shape(r.f_gan_bounds, (len(objectives.F_DIVERGENCES),))
    chex.assert_shape((r.cost_curves.costs, r.cost_curves.derivatives), (2, 999))
    np.testing.assert_array_equal(r.discriminator_seeds, [3, 4])
    np.testing.assert_array_equal(r.discriminator_steps, [0, 2, 4])
    chex.assert_shape(r.distances, (2, 2, 3))  # The tiny config's two objectives.
    assert_leaves_shape((r.distance_means, r.distance_stderrs), (2, 3))
    chex.assert_tree_all_finite(r)

  def test_progress(self):
    self.assertEqual(self.messages, [
        "10 samples: done", "100 samples: done", "2 discriminators for minimax trained",
        "2 discriminators for f_kl trained",
    ])

  def test_summaries_are_of_its_checks(self):
    # Each summary from the checks it holds, not another draw.
    r = self.results
    chex.assert_trees_all_equal(r.rms_errors, study.rms_errors(r.checks))
    chex.assert_trees_all_equal(r.over_seeds, study.over_seeds(r.checks))
    chex.assert_trees_all_equal(r.variances, study.per_sample_variances(r.checks, r.num_samples))
    chex.assert_trees_all_equal(r.distance_means, study.distance_curves(r.distances)[0])


if __name__ == "__main__":
  absltest.main()
