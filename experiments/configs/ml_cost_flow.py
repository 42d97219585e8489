"""The maximum-likelihood-cost study on the ring with the flow generator.

The setting of the GAN sweep's collapse (docs/gan_sweep.md): the ring's eight narrow modes,
the RealNVP generator of ``ring_flow`` (whose density the oracle and the NLL read) and
the 128x128 discriminator, trained by each cost against the oracle and against
discriminators trained k = 1, 5 and 25 steps per generator step (docs/ml_cost.md gives the
time; k = 100, ``--config.discriminator_step_counts=100``, takes about four times k = 25's).
``--config.target=grid`` runs the grid.
"""

import ml_collections

from experiments.configs import ml_cost, ring


def get_config() -> ml_collections.ConfigDict:
  config = ml_cost.get_config()
  flow = ring.get_config()
  config.target = "ring"
  config.latent_dim = 2
  config.generator.update(kind="flow", hidden_sizes=(64, 64), num_couplings=6)
  config.discriminator.hidden_sizes = flow.discriminator.hidden_sizes
  config.batch_size = flow.batch_size
  config.discriminator_step_counts = (1, 5, 25)
  config.num_seeds = 8
  config.num_steps = 3000
  config.eval_every = 300
  return config
