"""Tests for gan_theory.studies.likelihood_vs_samples: the models' log-likelihoods, the
calibration's samples, the reductions of the replicates, and the whole study on a small
config.

Log-densities are checked against closed forms of Gaussians; counts, sizes and bands
against hand-made inputs; Monte Carlo checks use fixed seeds and 4 standard errors.
"""

import math
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized

from experiments.configs import likelihood_vs_samples as configs
from gan_theory import distributions, two_sample
from gan_theory.studies import likelihood_vs_samples as study
from gan_theory.validation import ConfigError

DATA, NOISY = study.MODELS.index("data"), study.MODELS.index("noisy")
NULL, ALTERNATIVE = study.HYPOTHESES.index("null"), study.HYPOTHESES.index("alternative")


def _gaussian_log_density(x: np.ndarray, mean: np.ndarray, std: float) -> np.ndarray:
  """``log N(x | mean, std^2 I)`` in float64, per row of ``x``."""
  x, mean = np.asarray(x, np.float64), np.asarray(mean, np.float64)
  dim = x.shape[-1]
  return -0.5 * dim * math.log(2 * math.pi * std**2) - np.sum((x - mean) ** 2, -1) / (2 * std**2)


def _small_config():
  """A small study in 4 dimensions: the classifier test's compilation is most of its cost.

  The target's 2 centres are drawn at scale 10, about 28 (56 standard deviations) apart,
  so its entropy is a Gaussian's plus log 2 to many digits.
  """
  config = configs.get_config()
  config.dims = (4,)
  config.target.update(num_modes=2, mode_scale=10.0, std=0.5)
  config.num_train = 16
  config.num_replicates = 4
  config.two_sample.update(num_samples=32, num_permutations=20)
  config.two_sample.classifier.update(hidden_sizes=(8,), num_steps=2)
  config.two_sample.learned_kernel.update(hidden_sizes=(8,), feature_size=4, num_steps=2)
  return config


class ValidateTest(parameterized.TestCase):

  def test_accepts_the_default_and_the_small_config(self):
    study.validate(configs.get_config())
    study.validate(_small_config())

  @parameterized.named_parameters(
      # Two points per classifier half; more points than k = 5 nearest neighbours.
      ("sample_size_below_four", {"calibration.sample_sizes": (3, 100)}, "at least 4"),
      ("sample_size_not_above_k",
       {"two_sample.num_neighbours": 5, "calibration.sample_sizes": (5,)}, "at least 6"),
      ("zero_dim", {"dims": (4, 0)}, "config.dims=(4, 0)"),
      ("negative_vmap_size", {"vmap_size": -1}, "config.vmap_size=-1"),
      ("no_problem", {"calibration.problems": ()}, "must name at least one of"),
  )
  def test_rejects(self, overrides, message):
    config = _small_config()
    config.update_from_flattened_dict(overrides)
    with self.assertRaisesRegex(ConfigError, re.escape(message)):
      study.validate(config)


class MeanLogProbTest(chex.TestCase, parameterized.TestCase):
  """Mixtures of identical modes are one Gaussian: their mean log-density is exact."""

  POINTS = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
  CENTRE, STD = np.array([0.5, -1.0, 2.0], np.float32), 0.7

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      # 4 components x 3 coordinates: 36 floats are batches of 3 points, and a last one.
      ("in_batches_of_three", 36),
      ("in_one_batch", study.FLOATS_PER_BATCH),
  )
  def test_mixture_of_identical_modes(self, floats_per_batch):
    mixture = distributions.GaussianMixture(jnp.asarray(np.tile(self.CENTRE, (4, 1))), self.STD)
    value = self.variant(lambda x: study.mean_log_prob(mixture, x, floats_per_batch))(
        self.POINTS
    )
    chex.assert_shape(value, ())
    # float32 rounding only; a batch left out or counted twice moves the mean by ~0.3.
    expected = np.mean(_gaussian_log_density(self.POINTS, self.CENTRE, self.STD))
    np.testing.assert_allclose(value, expected, rtol=1e-5)

  def test_blend_of_one_gaussian_with_itself(self):
    gaussian = distributions.GaussianMixture(jnp.asarray(self.CENTRE[None]), self.STD)
    blend = distributions.Blend(gaussian, gaussian, 0.3)
    # 2 components x 3 coordinates: batches of 2 points.
    value = study.mean_log_prob(blend, jnp.asarray(self.POINTS), floats_per_batch=12)
    expected = np.mean(_gaussian_log_density(self.POINTS, self.CENTRE, self.STD))
    np.testing.assert_allclose(value, expected, rtol=1e-5)


class StudyModelsTest(absltest.TestCase):

  TARGET = distributions.GaussianMixture(
      jnp.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0]]), 0.5
  )
  # Training points at least 1 apart, 10 kernel widths at a variance of 0.01: at each, the
  # other kernels add e^-50 of its own.
  TRAIN = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
  VARIANCE, WEIGHT = 0.01, 0.01

  def setUp(self):
    super().setUp()
    self.models = study.study_models(self.TARGET, self.TRAIN, self.VARIANCE, self.WEIGHT)

  def test_memorizer_is_a_kernel_density_on_the_training_points(self):
    _, memorizer, _ = self.models
    np.testing.assert_array_equal(memorizer.modes, self.TRAIN)
    # At a training point the density is then its own kernel's over n. A std of 0.01 (the
    # variance) would be off by 3 log 10 = 6.9 nats.
    expected = -math.log(4) + _gaussian_log_density(
        np.zeros((1, 3)), np.zeros(3), math.sqrt(self.VARIANCE)
    )
    np.testing.assert_allclose(memorizer.log_prob(self.TRAIN), np.repeat(expected, 4), rtol=1e-5)

  def test_noisy_model_blends_p_with_its_moment_matched_gaussian(self):
    data, _, noisy = self.models
    self.assertIs(data, self.TARGET)
    points = jnp.asarray(np.random.default_rng(1).normal(scale=3.0, size=(50, 3)))
    # q: the modes' mean, and variance std^2 + the modes' mean per-coordinate variance.
    q_std = math.sqrt(0.25 + np.mean(np.var(np.asarray(self.TARGET.modes), axis=0)))
    log_q = _gaussian_log_density(points, np.mean(self.TARGET.modes, axis=0), q_std)
    log_p = np.asarray(self.TARGET.log_prob(points), np.float64)
    expected = np.logaddexp(math.log(self.WEIGHT) + log_p, math.log1p(-self.WEIGHT) + log_q)
    np.testing.assert_allclose(noisy.log_prob(points), expected, rtol=1e-5)


class CalibrationSamplesTest(absltest.TestCase):

  def test_mean_shift_shifts_only_the_alternatives_second_sample(self):
    n, dim, shift = 4000, 3, 0.5
    first, second = study.calibration_samples(jax.random.key(2), "mean_shift", n, dim, shift)
    chex.assert_shape((first, second), (len(study.HYPOTHESES), n, dim))
    means = np.stack([np.mean(first, axis=1), np.mean(second, axis=1)])
    expected = np.zeros_like(means)
    expected[1, ALTERNATIVE, 0] = shift
    # Each mean of n unit normals has standard error 1 / sqrt(n) = 0.016; the shift is 31.
    np.testing.assert_array_less(np.abs(means - expected), 4 / math.sqrt(n))
    np.testing.assert_allclose(np.std(second[ALTERNATIVE], axis=0), 1.0,
                               atol=4 / math.sqrt(2 * n))

  def test_blob_draws_only_the_alternatives_second_sample_from_the_correlated_mixture(self):
    n = 4000
    first, second = study.calibration_samples(jax.random.key(3), "blob", n, 10, 0.5)
    chex.assert_shape((first, second), (len(study.HYPOTHESES), n, 2))
    self.assertFalse(np.array_equal(first[NULL], first[ALTERNATIVE]))
    p, q = distributions.blob(), distributions.blob(correlated=True)
    samples = {"first null": first[NULL], "first alternative": first[ALTERNATIVE],
               "second null": second[NULL], "second alternative": second[ALTERNATIVE]}
    for name, x in samples.items():
      log_ratio = np.asarray(q.log_prob(x) - p.log_prob(x), np.float64)
      # Its mean is KL(q || p) > 0 under q and -KL(p || q) < 0 under p: about -/+ 0.5
      # nats per point, -1/2 log(1 - rho^2) averaged over the modes; 4 SE is about 0.03.
      sign = 1.0 if name == "second alternative" else -1.0
      self.assertGreater(sign * np.mean(log_ratio),
                         4 * np.std(log_ratio, ddof=1) / math.sqrt(n), name)

  def test_rejects_an_unknown_problem(self):
    with self.assertRaisesRegex(ValueError, "unknown problem 'blobs'; valid: mean_shift, blob"):
      study.calibration_samples(jax.random.key(0), "blobs", 10, 2, 0.5)


class RejectionCountsTest(absltest.TestCase):

  def test_counts_p_values_at_most_alpha(self):
    p_values = np.array([[0.01, 0.5], [0.05, 0.049], [0.2, 0.051], [1.0, 0.05]], np.float32)
    # p = alpha rejects: the permutation p-value 1 / 20 is a test of size 0.05.
    np.testing.assert_array_equal(study.rejection_counts(p_values, 0.05, axis=0), [2, 2])
    np.testing.assert_array_equal(study.rejection_counts(p_values, 0.05, axis=1), [1, 2, 0, 1])


class AttainableSizesTest(parameterized.TestCase):

  @parameterized.named_parameters(
      # floor(0.05 x 51) / 51; Binomial(10, 1/2): P(S >= 9) = 11 / 1024, P(S >= 8) = 5.5%.
      ("fifty_permutations_ten_points", 50, 10, 2 / 51, 11 / 1024),
      # 1 / 20 exactly; 11 points keep 6 a side held out, P(S >= 10 of 12) = 79 / 4096.
      ("nineteen_permutations_odd_size", 19, 11, 1 / 20, 79 / 4096),
      # 4 held-out points: the smallest tail, 1 / 16, is above alpha.
      ("no_classifier_tail_below_alpha", 1000, 4, 50 / 1001, 0.0),
  )
  def test_hand_made(self, num_permutations, sample_size, mmd, classifier):
    sizes = study.attainable_sizes(0.05, num_permutations, sample_size)
    np.testing.assert_allclose(sizes, [mmd, classifier, mmd], rtol=1e-7)


def _evaluation(**fields) -> two_sample.Evaluation:
  """An :class:`Evaluation` of the given fields, the others zeros shaped like them."""
  shape = np.shape(next(iter(fields.values())))
  return two_sample.Evaluation(
      **{f: np.asarray(fields.get(f, np.zeros(shape)), np.float32)
         for f in two_sample.Evaluation._fields}
  )


class SummarizeCalibrationTest(absltest.TestCase):

  def test_hand_made_p_values(self):
    config = _small_config()
    config.calibration.update(sample_sizes=(10,), num_replicates=10, alpha=0.05,
                              problems=("blob", "mean_shift"))
    config.two_sample.num_permutations = 50
    # [sample sizes, problems, replicates, hypotheses].
    p = np.full((1, 2, 10, 2), 0.5)
    p_mmd, p_classifier, p_learned = p.copy(), p.copy(), p.copy()
    p_mmd[0, 0, :3, NULL] = 0.02  # 3 of 10 null rejections: outside [0, 2].
    p_classifier[0, 0, :2, NULL] = 0.05  # 2: inside, at its top.
    p_mmd[0, 0, :7, ALTERNATIVE] = 0.04
    p_classifier[0, 0, :, ALTERNATIVE] = 0.01
    p_learned[0, 1, :4, ALTERNATIVE] = 0.03  # The second problem's.
    calibration = study.summarize_calibration(config, _evaluation(
        mmd_p_value=p_mmd, classifier_p_value=p_classifier, learned_kernel_p_value=p_learned
    ))
    np.testing.assert_array_equal(calibration.rejection_rate, [[
        [[0.3, 0.2, 0.0], [0.7, 1.0, 0.0]],
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.4]],
    ]])
    np.testing.assert_array_equal(calibration.null_band, [0, 2])
    np.testing.assert_array_equal(calibration.null_band_rate, [0.0, 0.2])
    np.testing.assert_array_equal(calibration.null_in_band,
                                  [[[False, True, True], [True, True, True]]])
    np.testing.assert_allclose(calibration.attainable_size, [[2 / 51, 11 / 1024, 2 / 51]],
                               rtol=1e-7)


class SummarizeStudyTest(absltest.TestCase):

  def test_hand_made_replicates(self):
    dims, weight = (2, 10), 0.01
    # [dims, replicates, models]: data, memorizer, noisy.
    log_likelihood = np.array([
        [[-10.0, -50.0, -14.0], [-12.0, -60.0, -16.5], [-11.0, -70.0, -15.0]],
        [[-40.0, -90.0, -44.6], [-42.0, -80.0, -46.6], [-44.0, -85.0, -48.0]],
    ], np.float32)
    accuracy = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    summary = study.summarize_study(
        dims,
        study.Study(log_likelihood, _evaluation(classifier_accuracy=accuracy)),
        weight,
    )
    # Replicate means, and their standard errors std / sqrt(3).
    np.testing.assert_allclose(summary.log_likelihood.mean,
                               [[-11, -60, -15.1666667], [-42, -85, -46.4]], rtol=1e-6)
    np.testing.assert_allclose(summary.log_likelihood.stderr[:, DATA],
                               [1 / math.sqrt(3), 2 / math.sqrt(3)], rtol=1e-6)
    np.testing.assert_allclose(summary.log_likelihood_per_dim.mean[:, DATA], [-5.5, -4.2],
                               rtol=1e-6)
    np.testing.assert_allclose(summary.evaluation.classifier_accuracy.mean,
                               [[3, 4, 5], [12, 13, 14]], rtol=1e-6)
    np.testing.assert_allclose(summary.evaluation.classifier_accuracy.stderr,
                               np.full((2, 3), 3 / math.sqrt(3)), rtol=1e-6)
    log_weight = math.log(weight)  # -4.605
    self.assertEqual(summary.log_signal_weight, log_weight)
    np.testing.assert_allclose(summary.noisy_bound, [-11 + log_weight, -42 + log_weight],
                               rtol=1e-6)
    # Noisy minus (data + log w), least over replicates: dim 2 (-4, -4.5, -4) - log w;
    # dim 10 (-4.6, -4.6, -4) - log w.
    np.testing.assert_allclose(summary.noisy_bound_gap, [-4.5 - log_weight, -4.6 - log_weight],
                               atol=1e-5)


class StudyReplicatesTest(absltest.TestCase):
  """The study's replicates on :func:`_small_config`, computed once.

  The calibration's replicates, and :func:`compute` around both, run in the launcher's
  tiny test (``tests/test_main.py``): another compilation of the tests costs ~10 s here.
  """

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.config = _small_config()
    cls.replicates = study.study_replicates(cls.config, dim=4)

  def test_shapes(self):
    chex.assert_shape(
        (self.replicates.log_likelihood, *self.replicates.evaluation),
        (self.config.num_replicates, len(study.MODELS)),
    )

  def test_data_log_likelihood_is_minus_the_entropy(self):
    # Far-apart modes: H(p) = d/2 log(2 pi e std^2) + log 2, and Var log p(x) = d/2 (a
    # chi-square's halved), so the mean of R x n held-out points has SE sqrt(d / (2 R n)).
    dim, std = 4, 0.5
    entropy = dim / 2 * math.log(2 * math.pi * math.e * std**2) + math.log(2)
    values = self.replicates.log_likelihood[:, DATA]
    se = math.sqrt(dim / (2 * values.size * self.config.two_sample.num_samples))
    self.assertLess(abs(np.mean(values) + entropy), 4 * se)  # log 2 is 5.5 SE.

  def test_noisy_log_likelihood_is_at_least_data_plus_log_w(self):
    log_likelihood = self.replicates.log_likelihood
    bound = log_likelihood[:, DATA] + math.log(self.config.signal_weight)
    # Point by point log(w p + (1 - w) q) >= log w + log p; float32 rounding of ~10 nats.
    np.testing.assert_array_less(bound - 1e-4, log_likelihood[:, NOISY])


if __name__ == "__main__":
  absltest.main()
