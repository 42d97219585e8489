"""scikit-learn's bundled handwritten digits, binarized, with a fixed split.

1,797 images of 8 x 8 pixels with values 0..16, read from the copy that ships inside
scikit-learn (no download). A pixel is 1 when its value is at least 8, half the range:
a fixed binarization, so every run sees the same data. The split is a permutation drawn
once by ``numpy.random.default_rng(0)``: the first 1,297 images train, the next 250
validate, the last 250 test.
"""

from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_digits

__all__ = ["NUM_PIXELS", "SIDE", "Split", "binarized_digits"]

SIDE = 8
NUM_PIXELS = SIDE * SIDE
THRESHOLD = 8  # Of the raw 0..16 values.
NUM_VALIDATION = NUM_TEST = 250


class Split(NamedTuple):
  """Binarized images ``[n, 64]`` (float32 zeros and ones) of each part of the split."""

  train: np.ndarray
  validation: np.ndarray
  test: np.ndarray


def binarized_digits() -> Split:
  """The digits, binarized at 8 of 16 and split 1,297 / 250 / 250 by a fixed permutation."""
  images = (load_digits().data >= THRESHOLD).astype(np.float32)
  order = np.random.default_rng(0).permutation(len(images))
  train_end = len(images) - NUM_VALIDATION - NUM_TEST
  return Split(
      train=images[order[:train_end]],
      validation=images[order[train_end : train_end + NUM_VALIDATION]],
      test=images[order[train_end + NUM_VALIDATION :]],
  )
