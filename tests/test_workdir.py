"""Tests for experiments.workdir: claiming a results directory and atomic writes."""

from pathlib import Path

from absl.testing import absltest

from experiments import workdir
from tests.tiny import tiny_config

OUTPUTS = ("config.json", "checkpoints", "results.csv")


class ClaimTest(absltest.TestCase):

  def test_fresh_and_same_config(self):
    path = Path(self.create_tempdir().full_path) / "a" / "b"
    config = tiny_config()
    self.assertEqual(workdir.claim(path, config, OUTPUTS, overwrite=False), path)
    workdir.claim(path, tiny_config(), OUTPUTS, overwrite=False)  # Same config: fine.

  def test_different_config_refused_unless_overwrite(self):
    path = Path(self.create_tempdir().full_path)
    workdir.claim(path, tiny_config(), OUTPUTS, overwrite=False)
    (path / "results.csv").write_text("objective\n")
    with self.assertRaisesRegex(workdir.WorkdirError, "holds results of a different config"):
      workdir.claim(path, tiny_config(num_seeds=5), OUTPUTS, overwrite=False)
    workdir.claim(path, tiny_config(num_seeds=5), OUTPUTS, overwrite=True)

  def test_a_config_without_results_is_free(self):
    # As a run that failed before its first snapshot leaves its workdir.
    path = Path(self.create_tempdir().full_path)
    workdir.claim(path, tiny_config(), OUTPUTS, overwrite=False)
    (path / "checkpoints" / "k5").mkdir(parents=True)
    workdir.claim(path, tiny_config(num_seeds=5), OUTPUTS, overwrite=False)
    self.assertIn('"num_seeds": 5', (path / "config.json").read_text())
    (path / "checkpoints" / "k5" / "snapshot").write_text("")
    with self.assertRaisesRegex(workdir.WorkdirError, "holds results of a different config"):
      workdir.claim(path, tiny_config(), OUTPUTS, overwrite=False)

  def test_empty_workdir_refused(self):
    for empty in ("", " "):
      with self.assertRaisesWithLiteralMatch(
          workdir.WorkdirError,
          "--workdir is empty: give the directory that receives the results",
      ):
        workdir.claim(empty, tiny_config(), OUTPUTS, overwrite=False)

  def test_results_without_config_refused(self):
    path = Path(self.create_tempdir().full_path)
    (path / "results.csv").write_text("objective\n")
    with self.assertRaisesRegex(workdir.WorkdirError, "without a config.json"):
      workdir.claim(path, tiny_config(), OUTPUTS, overwrite=False)


class CsvTextTest(absltest.TestCase):

  def test_header_rows_and_quoting(self):
    text = workdir.csv_text(["k", "name"], [[1, "a"], (5, "b,c")])
    self.assertEqual(text, 'k,name\n1,a\n5,"b,c"\n')


class MarkdownTableTest(absltest.TestCase):

  def test_header_rule_and_rows(self):
    text = workdir.markdown_table(["k", "name", "value"], [[1, "a", "0.5 ± 0.1"], (10, "b", "")],
                                  align="rlr")
    self.assertEqual(text, "| k | name | value |\n|---:|---|---:|\n| 1 | a | 0.5 ± 0.1 |\n"
                           "| 10 | b |  |")

  def test_default_alignment_and_header_alone(self):
    self.assertEqual(workdir.markdown_table(["a", "b"], []), "| a | b |\n|---|---|")
    self.assertEqual(workdir.markdown_row(["x", 2]), "| x | 2 |")

  def test_bad_alignment(self):
    with self.assertRaisesRegex(ValueError, "align='rr' needs an 'l' or 'r' for each of 3"):
      workdir.markdown_table(["a", "b", "c"], [], align="rr")
    with self.assertRaisesRegex(ValueError, "align='lc'"):
      workdir.markdown_table(["a", "b"], [], align="lc")


class WriteAtomicTest(absltest.TestCase):

  def test_failed_write_leaves_old_file_and_no_debris(self):
    path = Path(self.create_tempdir().full_path) / "results.csv"
    workdir.write_text(path, "old\n")

    def half_then_fail(f):
      f.write(b"new, half")
      raise RuntimeError("killed midway")

    with self.assertRaises(RuntimeError):
      workdir.write_atomic(path, half_then_fail)
    self.assertEqual(path.read_text(), "old\n")
    self.assertEqual([p.name for p in path.parent.iterdir()], ["results.csv"])

  def test_failed_first_write_leaves_nothing(self):
    path = Path(self.create_tempdir().full_path) / "summary.md"

    def fail(f):
      raise RuntimeError("killed midway")

    with self.assertRaises(RuntimeError):
      workdir.write_atomic(path, fail)
    self.assertEqual(list(path.parent.iterdir()), [])


if __name__ == "__main__":
  absltest.main()
