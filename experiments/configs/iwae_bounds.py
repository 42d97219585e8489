"""The IWAE bounds against the exact log-likelihood, their gradients' signal-to-noise ratio,
and the variance of the two gradient estimators against dimension.

The model is Rainforth et al. (2018, section 4)'s: p(z) = N(mu, I), p(x | z) = N(z, I) in
`dim` dimensions, written as the linear-Gaussian model p(z) = N(0, I),
p(x | z) = N(z + mu, I) (the prior's mean in the decoder's bias), with mu ~ N(0, I). The
encoder q(z | x) = N(A x + c, encoder_std^2 I) starts at the optimal A = I / 2,
c = -mu / 2, every entry perturbed by N(0, perturbation^2); its standard deviation
sqrt(2/3) is wider than the posterior's sqrt(1/2).
"""

import math

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = "iwae_bounds"
  config.seed = 0  # Draws mu, the perturbation, the data and every importance sample.

  config.dim = 20
  config.encoder_std = math.sqrt(2 / 3)
  config.perturbation = 0.01
  config.num_data = 16  # Data points drawn from the model; bounds and gradients average them.

  # k of each bound; the largest are made chunk_size samples at a time.
  config.num_importance_samples = (1, 2, 5, 10, 50, 100, 500, 1000)
  config.chunk_size = 500
  # Independent estimates of each bound, and of its gradient, per k: a gradient entry with
  # mean 0 measures an SNR of sqrt(2 / (pi num_replicates)), 0.018 here.
  config.num_replicates = 2000
  # The encoder's gradient estimators, each on the same draws (gan_theory.vae.ENCODER_GRADIENTS).
  config.encoder_gradients = ("reparameterized", "stl", "dreg")

  # The gradient of E_q[(z - c)^T A (z - c) / 2] in q's parameters, by both estimators,
  # for a Gaussian q with a diagonal and with a full covariance, in each dimension.
  config.estimators = ml_collections.ConfigDict(dict(
      dims=(1, 2, 4, 8, 16, 32, 64), num_samples=10_000,
  ))
  return config
