"""Experiment configs, one file per experiment, and the sections they share."""

import ml_collections


def two_sample_config(num_samples: int = 1000) -> ml_collections.ConfigDict:
  """The likelihood-free evaluation of samples against held-out data: the MMD test, the
  classifier test, the learned-kernel MMD test and precision/recall
  (``gan_theory.two_sample.make_evaluate``).

  Args:
    num_samples: model samples compared with as many held-out data points.
  """
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
      # The deep kernel of the learned-kernel test (Liu et al. 2020): a ReLU MLP's features
      # in a Gaussian kernel, trained by full-batch Adam on half of each sample.
      learned_kernel=ml_collections.ConfigDict(
          dict(hidden_sizes=(64, 64), feature_size=32, num_steps=500, learning_rate=1e-3)
      ),
  ))
