"""Is likelihood a good measure? (the lecture) Held-out log-likelihood against likelihood-free
tests for three models of a known p, in dimensions 2 to 1000; and the tests' calibration.

p is a mixture of `target.num_modes` Gaussians of std `target.std` whose centres are drawn
from N(0, target.mode_scale^2 I_d). The memorizer p1(x) = 1/n sum_i N(x | x_i, eps I) is a
kernel density on `num_train` training points (eps = `memorizer_variance`): its samples are
copies of data, its likelihood poor. The noisy model p2 = 0.01 p + 0.99 q, with q the
Gaussian of p's mean and variance (`signal_weight` = 0.01): its log-likelihood is within
log 100 of p's, its samples 99% noise.
"""

import ml_collections

from experiments.configs import two_sample_config


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = "likelihood_vs_samples"
  config.seed = 0  # Draws every target, training set, sample and test.

  config.dims = (2, 10, 100, 1000)
  config.target = ml_collections.ConfigDict(dict(num_modes=8, mode_scale=2.0, std=0.5))
  config.num_train = 5000
  config.memorizer_variance = 0.01
  config.signal_weight = 0.01
  # Independent replicates (training set, held-out data, samples, tests) per dimension.
  config.num_replicates = 4
  # Samples of each model against as many held-out points; their log-likelihood is the
  # held-out one.
  config.two_sample = two_sample_config(num_samples=1000)

  # The tests' type-I error and power, num_replicates times at each sample size (per side),
  # on each problem: mean_shift, N(0, I) against N(0, I) and against N(shift e_1, I) in `dim`
  # dimensions; blob, Liu et al.'s nine Gaussians against themselves and against the same
  # with correlated coordinates (2-D).
  config.calibration = ml_collections.ConfigDict(dict(
      problems=("mean_shift", "blob"), dim=10, shift=0.5,
      sample_sizes=(25, 50, 100, 200, 400), num_replicates=200, alpha=0.05,
  ))
  # Runs vmapped together (0: by backend), as in the GAN sweep.
  config.vmap_size = 0
  return config
