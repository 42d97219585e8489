"""Does the maximum-likelihood cost recover maximum likelihood (the assignment's part 3)?

The 1-D problem of the theory experiment, p_data = N(-2, 0.5^2) / 2 + N(2, 0.5^2) / 2, and
the Gaussian generator x = mean + std z (two parameters; the maximum-likelihood fit is
N(0, 2.06^2)), trained by each cost against the oracle discriminator and against MLP
discriminators trained 1, 5 and 25 steps per generator step, beside maximum likelihood
itself (`mle`) on the same seeds (about 6 minutes on a 2-core CPU;
``--config.discriminator_step_counts=1,5,25,100`` adds k = 100). ``ml_cost_flow.py`` runs the
ring and the grid with the flow generator.
"""

import ml_collections

from experiments.configs import ring


def get_config() -> ml_collections.ConfigDict:
  config = ring.get_config()
  config.experiment = "ml_cost"
  config.target = "line"
  config.latent_dim = 1
  config.generator.kind = "gaussian"
  # Small enough for a CPU: the discriminator's k updates per step dominate the time.
  config.discriminator.hidden_sizes = (32, 32)
  config.batch_size = 128
  config.objectives = ("maximum_likelihood", "maximum_likelihood_self_normalized", "mle",
                       "minimax", "non_saturating", "mmd")
  # The discriminators, one sweep each: the oracle, then trained k steps per generator step
  # for each k (none: the oracle alone).
  config.oracle = True
  config.discriminator_step_counts = (1, 5, 25)
  config.num_seeds = 8
  config.num_steps = 2000
  config.eval_every = 200
  config.two_sample_tests = False
  return config
