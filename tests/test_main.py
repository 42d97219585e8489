"""Smoke tests of the launcher, run as a user runs it: a subprocess per command."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from absl.testing import absltest, parameterized

from experiments import gan_sweep
from tests.tiny import tiny_config

ROOT = Path(__file__).resolve().parents[1]
TINY = (
    "--config.num_seeds=2",
    "--config.num_steps=20",
    "--config.eval_every=10",
    "--config.batch_size=32",
    "--config.eval_samples=200",
    "--config.mmd_samples=100",
    "--config.generator.hidden_sizes=(16,16)",
    "--config.discriminator.hidden_sizes=(16,16)",
)


def launch(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, "-m", "experiments.main", *args],
      cwd=ROOT, capture_output=True, text=True, timeout=600,
  )


def error_line(process: subprocess.CompletedProcess) -> str:
  lines = process.stderr.strip().splitlines()
  return lines[-1] if lines else ""


class LauncherTest(absltest.TestCase):

  def test_tiny_sweep_writes_every_output_and_reruns(self):
    workdir = Path(self.create_tempdir().full_path) / "ring"
    process = launch(f"--workdir={workdir}", *TINY, "--config.objectives=minimax,maximum_likelihood")
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertCountEqual([p.name for p in workdir.iterdir()], gan_sweep.OUTPUTS)
    self.assertIn("run-steps/s", process.stderr)  # Progress logging.

    config = json.loads((workdir / "config.json").read_text())
    self.assertEqual(config["objectives"], ["minimax", "maximum_likelihood"])
    self.assertEqual(config["target"], "ring")

    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(len(rows), 2 * 2 * 3)  # objectives x seeds x evaluations
    self.assertEqual(list(rows[0])[:5], ["objective", "seed", "step", "diverged_step", "modes"])
    self.assertEqual({r["diverged_step"] for r in rows}, {""})
    self.assertEqual({(r["objective"], r["seed"], r["step"]) for r in rows},
                     {(o, s, t) for o in ("minimax", "maximum_likelihood")
                      for s in ("0", "1") for t in ("0", "10", "20")})

    summary = (workdir / "summary.md").read_text()
    self.assertIn("| minimax | 2 |", summary)
    self.assertIn("| maximum_likelihood | 2 |", summary)
    for name in ("samples.png", "curves.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
    self.assertEqual(os.stat(workdir / "results.csv").st_mode & 0o044, 0o044)

    # The same config again: allowed, and deterministic.
    before = (workdir / "results.csv").read_text()
    process = launch(f"--workdir={workdir}", *TINY, "--config.objectives=minimax,maximum_likelihood")
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertEqual((workdir / "results.csv").read_text(), before)

    # Another config: refused before compiling, leaving the results alone, unless --overwrite.
    process = launch(f"--workdir={workdir}", *TINY)
    self.assertNotEqual(process.returncode, 0)
    self.assertIn("holds results of a different config", error_line(process))
    self.assertEqual((workdir / "results.csv").read_text(), before)
    process = launch(f"--workdir={workdir}", *TINY, "--overwrite", "--config.target=grid")
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertEqual(json.loads((workdir / "config.json").read_text())["target"], "grid")


class DivergedRunsTest(absltest.TestCase):

  def test_diverged_runs_are_blank_counted_and_left_out(self):
    workdir = Path(self.create_tempdir().full_path)
    config = tiny_config(
        objectives=("minimax",),
        **{"optimizer.name": "sgd", "generator.learning_rate": 1e30,
           "discriminator.learning_rate": 1e30},
    )
    gan_sweep.run(config, str(workdir))
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    for row in rows:
      self.assertNotEqual(row["diverged_step"], "")
      blank = row["step"] != "0"
      self.assertEqual(row["modes"] == "", blank)
      self.assertEqual(row["mmd2"] == "", blank)
    self.assertIn("| minimax | 2 | 2 | nan ± nan |", (workdir / "summary.md").read_text())


class BadInputTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("unknown_target", ("--config.target=spiral",), "config.target='spiral'"),
      ("unknown_objective", ("--config.objectives=minimax,wgan",), "config.objectives"),
      ("unknown_activation", ("--config.generator.activation=swish2",), "config.generator.activation"),
      ("zero_seeds", ("--config.num_seeds=0",), "config.num_seeds=0 must be a positive integer"),
      ("zero_size", ("--config.discriminator.hidden_sizes=(0,)",), "config.discriminator.hidden_sizes"),
      ("eval_every", ("--config.eval_every=300",), "config.eval_every=300 must divide"),
      ("unknown_field", ("--config.num_stepz=3",), "--config.num_stepz: no such field"),
      ("grid_config", ("--config=experiments/configs/grid.py", "--config.grid.std=0"), "config.grid"),
  )
  def test_one_line_error_and_nothing_written(self, args, message):
    workdir = Path(self.create_tempdir().full_path) / "out"
    process = launch(f"--workdir={workdir}", *args)
    self.assertEqual(process.returncode, 1, process.stderr[-2000:])
    self.assertIn(message, error_line(process))
    self.assertTrue(error_line(process).startswith("error: "))
    self.assertNotIn("Traceback", process.stderr)
    self.assertFalse(workdir.exists())

  def test_unwritable_workdir(self):
    blocker = Path(self.create_tempfile().full_path)  # A file where a directory must go.
    process = launch(f"--workdir={blocker}/out", *TINY)
    self.assertEqual(process.returncode, 1, process.stderr[-2000:])
    self.assertIn(f"--workdir={blocker}/out cannot be written", error_line(process))


if __name__ == "__main__":
  absltest.main()
