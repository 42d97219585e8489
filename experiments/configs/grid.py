"""GANs on a 5x5 grid of Gaussians (VEEGAN, PacGAN)."""

import ml_collections

from experiments.configs import ring


def get_config() -> ml_collections.ConfigDict:
  config = ring.get_config()
  config.target = "grid"
  return config
