"""A shrunken GAN config: the real structure, small enough to compile and run in seconds."""

import ml_collections

from experiments.configs import ring


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  config = ring.get_config()
  config.num_seeds = 2
  config.num_steps = 20
  config.eval_every = 10
  config.batch_size = 32
  config.eval_samples = 200
  config.mmd_samples = 100
  config.generator.hidden_sizes = (16, 16)
  config.discriminator.hidden_sizes = (16, 16)
  config.update_from_flattened_dict(overrides)
  return config
