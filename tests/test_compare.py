"""Tests for experiments.compare: summary tables compared cell by cell in standard errors."""

import math

from absl.testing import absltest

from experiments import compare

SUMMARY = """# ring: final metrics

| objective | seeds | diverged | modes | high_quality |
|---|---|---|---|---|
| minimax | 4 | 0 | 8 ± 0 | 63.3 ± 5.1 |
| maximum_likelihood | 4 | 1 | 1.75 ± 0.48 | 25% ± 13% |

## Every metric

| objective | mmd2 |
|---|---|
| minimax | 2.4e-02 ± 5e-03 |
"""


class CompareTest(absltest.TestCase):

  def test_every_mean_and_standard_error_cell_is_read(self):
    cells = compare.estimates(SUMMARY)
    header = "objective seeds diverged modes high_quality"
    self.assertEqual(cells[("ring: final metrics", header, "minimax", "modes")], (8.0, 0.0))
    self.assertEqual(
        cells[("ring: final metrics", header, "maximum_likelihood", "high_quality")], (25.0, 13.0)
    )
    self.assertEqual(cells[("Every metric", "objective mmd2", "minimax", "mmd2")], (0.024, 0.005))
    self.assertLen(cells, 5)  # The seed and divergence counts are not estimates.

  def test_differences_in_combined_standard_errors(self):
    rerun = SUMMARY.replace("63.3 ± 5.1", "50.3 ± 6.8").replace("8 ± 0", "7.5 ± 0.5")
    scores = dict((cell[2:], z) for z, cell in compare.z_scores(SUMMARY, rerun))
    self.assertAlmostEqual(scores[("minimax", "high_quality")], 13 / math.hypot(5.1, 6.8))
    self.assertEqual(scores[("minimax", "modes")], 1.0)
    self.assertEqual(scores[("minimax", "mmd2")], 0.0)

  def test_a_cell_that_is_an_estimate_in_one_file_only_is_infinitely_far(self):
    rerun = SUMMARY.replace("2.4e-02 ± 5e-03", "nan ± nan")
    z, cell = compare.z_scores(SUMMARY, rerun)[0]
    self.assertEqual((z, cell[2:]), (math.inf, ("minimax", "mmd2")))

  def test_a_change_with_no_standard_error_is_infinitely_far(self):
    rerun = SUMMARY.replace("8 ± 0", "7 ± 0")
    z, cell = compare.z_scores(SUMMARY, rerun)[0]
    self.assertEqual((z, cell[2:]), (math.inf, ("minimax", "modes")))


if __name__ == "__main__":
  absltest.main()
