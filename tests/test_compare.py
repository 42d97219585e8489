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
    self.assertEqual(cells[("ring: final metrics", "objective", "minimax", "modes")], (8.0, 0.0))
    self.assertEqual(
        cells[("ring: final metrics", "objective", "maximum_likelihood", "high_quality")],
        (25.0, 13.0),
    )
    self.assertEqual(cells[("Every metric", "objective", "minimax", "mmd2")], (0.024, 0.005))
    self.assertLen(cells, 5)  # The seed and divergence counts are not estimates.

  def test_rows_are_labelled_by_their_cells_before_the_first_number(self):
    table = ("# s\n\n| cost | discriminator | excess | seeds above |\n|---|---|---|---|\n"
             "| ml | oracle | 1 ± 0.5 | 7 of 8 |\n| ml | k=5 | 2 ± 0.5 | 8 of 8 |\n")
    self.assertEqual(compare.estimates(table), {("s", "cost", "ml oracle", "excess"): (1.0, 0.5),
                                                ("s", "cost", "ml k=5", "excess"): (2.0, 0.5)})

  def test_a_table_that_gained_a_column_still_matches(self):
    rerun = SUMMARY.replace("| objective | mmd2 |\n|---|---|\n| minimax | 2.4e-02 ± 5e-03 |",
                            "| objective | mmd2 | jsd |\n|---|---|---|\n"
                            "| minimax | 2.4e-02 ± 5e-03 | 0.1 ± 0.01 |")
    scores = {cell[2:]: z for z, cell in compare.z_scores(SUMMARY, rerun)}
    self.assertEqual(scores[("minimax", "mmd2")], 0.0)
    self.assertEqual(scores[("minimax", "jsd")], math.inf)
    shared = {cell[2:]: z for z, cell in compare.z_scores(SUMMARY, rerun, shared=True)}
    self.assertNotIn(("minimax", "jsd"), shared)
    self.assertLen(shared, 5)

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
