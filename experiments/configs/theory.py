"""The theory checks on a 1-D problem that anyone can check by hand.

p_data = N(-2, 0.5^2) / 2 + N(2, 0.5^2) / 2; the generator is x = mean + std z, z ~ N(0, 1),
at theta0 = (mean, log std) = (0.5, log 1.5). For each generator objective, the gradient of
its cost with the optimal discriminator frozen at theta0 is estimated pathwise and by the
score function, at each sample size, and compared with the exact gradient of the
divergence it should equal (quadrature).
"""

import ml_collections

from gan_theory.objectives import GENERATOR_OBJECTIVES


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = "theory"

  config.data_modes = (-2.0, 2.0)
  config.data_std = 0.5
  config.generator_mean = 0.5
  config.generator_std = 1.5

  config.objectives = GENERATOR_OBJECTIVES
  # Monte Carlo sample sizes; every one is drawn afresh for each seed.
  config.num_samples = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
  config.num_seeds = 10
  config.first_seed = 0

  # The exact side: the trapezoid rule on [low, high].
  config.quadrature = ml_collections.ConfigDict(dict(low=-15.0, high=15.0, num_points=30_001))
  return config
