"""Tests for gan_theory.digits: the bundled data, binarized, and its fixed split."""

import numpy as np
from absl.testing import absltest
from sklearn.datasets import load_digits

from gan_theory import digits


class BinarizedDigitsTest(absltest.TestCase):

  def test_split_sizes_values_and_determinism(self):
    split = digits.binarized_digits()
    self.assertEqual([part.shape for part in split], [(1297, 64), (250, 64), (250, 64)])
    for part in split:
      self.assertEqual(part.dtype, np.float32)
      self.assertTrue(np.all((part == 0) | (part == 1)))
    again = digits.binarized_digits()
    for part, same in zip(split, again):
      np.testing.assert_array_equal(part, same)

  def test_the_parts_are_a_permutation_of_every_image(self):
    split = digits.binarized_digits()
    every = (load_digits().data >= 8).astype(np.float32)
    joined = np.concatenate(split)

    def rows(a):
      return sorted(map(bytes, a.astype(np.uint8)))

    self.assertEqual(rows(joined), rows(every))


if __name__ == "__main__":
  absltest.main()
