"""The likelihood-free evaluation section that experiments share: samples against held-out
data by the MMD test, the classifier test and precision/recall (gan_theory.two_sample)."""

import ml_collections


def get_config(num_samples: int = 1000) -> ml_collections.ConfigDict:
  """The section, comparing ``num_samples`` model samples with as many held-out data."""
  return ml_collections.ConfigDict(dict(
      num_samples=num_samples,
      num_permutations=1000,
      # k = 3 as in Kynkaanniemi et al. (2019).
      num_neighbours=3,
      # The classifier of the classifier test: the discriminator network, trained by
      # full-batch Adam on half of each sample.
      classifier=ml_collections.ConfigDict(
          dict(hidden_sizes=(64, 64), num_steps=500, learning_rate=1e-3)
      ),
  ))
