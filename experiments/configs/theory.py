"""The theory checks on a 1-D problem that anyone can check by hand.

p_data = N(-2, 0.5^2) / 2 + N(2, 0.5^2) / 2; the generator is x = mean + std z, z ~ N(0, 1),
at theta0 = (mean, log std) = (0.5, log 1.5). For each generator objective, the gradient of
its cost with the optimal discriminator frozen at theta0 is estimated pathwise and by the
score function, at each sample size, and compared with the exact gradient of the
divergence it should equal (quadrature). Discriminators trained alone against that
generator show how close training gets to D*.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = "theory"

  config.data_modes = (-2.0, 2.0)
  config.data_std = 0.5
  config.generator_mean = 0.5
  config.generator_std = 1.5

  # The three costs of the minimax game (the assignment); any registered objective with a
  # sample cost and a divergence may be added, the f-GAN games' costs too.
  config.objectives = ("minimax", "non_saturating", "maximum_likelihood")
  # Monte Carlo sample sizes; every one is drawn afresh for each seed.
  config.num_samples = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
  config.num_seeds = 10
  config.first_seed = 0

  # The exact side: the trapezoid rule on [low, high].
  config.quadrature = ml_collections.ConfigDict(dict(low=-15.0, high=15.0, num_points=30_001))

  # Discriminators trained alone against the fixed generator at theta0, num_seeds of them in
  # one vmapped program per objective, their distance to D* and the gap of their objective
  # to its maximum measured every eval_every steps: the cross-entropy of the minimax game,
  # and the variational bound of each f-GAN game.
  config.discriminator = ml_collections.ConfigDict(dict(
      objectives=("minimax", "f_kl", "f_reverse_kl", "f_pearson", "f_squared_hellinger",
                  "f_jensen_shannon"),
      hidden_sizes=(64, 64), activation="relu", learning_rate=1e-3, batch_size=256,
      num_steps=3000, eval_every=250, num_seeds=8,
  ))
  return config
