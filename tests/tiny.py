"""A shrunken GAN config: the real structure, small enough to compile and run in seconds."""

import ml_collections

from experiments.configs import digits, ring


def _shrink_two_sample(config: ml_collections.ConfigDict, num_samples: int) -> None:
  """Few samples and permutations and a small, short-trained classifier."""
  config.two_sample.num_samples = num_samples
  config.two_sample.num_permutations = 50
  config.two_sample.classifier.hidden_sizes = (8,)
  config.two_sample.classifier.num_steps = 10


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
  _shrink_two_sample(config, num_samples=50)
  config.update_from_flattened_dict(overrides)
  return config


def tiny_digits_config(**overrides) -> ml_collections.ConfigDict:
  """The digits VAE config, shrunken: its structure, small networks, few steps and samples."""
  config = digits.get_config()
  config.num_seeds = 2
  config.latent_dim = 4
  config.encoder.hidden_sizes = (16,)
  config.decoder.hidden_sizes = (16,)
  config.num_steps = 200
  config.eval_every = 100
  config.evaluation.num_samples = 200
  config.evaluation.chunk_size = 50
  config.mean_field.num_images = 8
  config.mean_field.num_steps = 200
  config.num_pictures = 4
  _shrink_two_sample(config, num_samples=40)
  config.update_from_flattened_dict(overrides)
  return config
