"""GANs on a 5x5 grid of Gaussians (VEEGAN, PacGAN).

The 25 narrow modes need longer training than the ring: 5,000 steps find most modes but
leave only about 10-15% of samples within 3 std of one.
"""

import ml_collections

from experiments.configs import ring


def get_config() -> ml_collections.ConfigDict:
  config = ring.get_config()
  config.target = "grid"
  config.num_steps = 20_000
  config.eval_every = 1000
  return config
