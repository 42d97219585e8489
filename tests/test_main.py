"""Smoke tests of the launcher, run as a user runs it: a subprocess per command."""

import csv
import json
import os
from pathlib import Path

from absl.testing import absltest, parameterized

from experiments import gan_sweep, main, theory
from tests.launch import ROOT, TINY, TINY_THEORY, error_line, launch
from tests.tiny import tiny_config


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
    # (Other seeds: the same programs, which the compilation cache already holds.)
    process = launch(f"--workdir={workdir}", *TINY, "--overwrite", "--config.first_seed=7")
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertEqual(json.loads((workdir / "config.json").read_text())["first_seed"], 7)
    with open(workdir / "results.csv") as f:
      self.assertEqual({row["seed"] for row in csv.DictReader(f)}, {"7", "8"})


  def test_tiny_theory_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "theory"
    process = launch(f"--workdir={workdir}", *TINY_THEORY)
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertCountEqual([p.name for p in workdir.iterdir()], theory.OUTPUTS)
    with open(workdir / "identities.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(
        list(rows[0]),
        ["identity", "estimator", "num_samples", "parameter", "seed", "exact", "estimate",
         "std_error"],
    )
    keys = {(r["identity"], r["estimator"], r["num_samples"], r["parameter"], r["seed"])
            for r in rows}
    self.assertLen(rows, 3 * 2 * 3 * 2 * 3)  # identities x estimators x sizes x parameters x seeds
    self.assertLen(keys, len(rows))
    self.assertEqual({r["num_samples"] for r in rows}, {"10", "100", "1000"})
    summary = (workdir / "summary.md").read_text()
    for section in ("## Value identity", "## Gradient identities at n = 1,000",
                    "## Variance of each estimator", "## How fast the error falls"):
      self.assertIn(section, summary)
    for name in ("errors.png", "cost_curves.png", "discriminators.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
    with open(workdir / "discriminators.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual({(r["seed"], r["step"]) for r in rows},
                     {(s, t) for s in ("0", "1") for t in ("0", "10", "20")})
    self.assertIn("## Discriminators towards D*", summary)


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


# Bad inputs that a GAN sweep config must reject: (case, overrides, start of the message).
GAN_SWEEP_BAD_INPUTS = (
    ("unknown_target", ("--config.target=spiral",), "config.target='spiral' is not allowed"),
    ("unknown_objective", ("--config.objectives=minimax,wgan",), "config.objectives=("),
    ("unknown_activation", ("--config.generator.activation=swish2",),
     "config.generator.activation='swish2' is not allowed"),
    ("unknown_optimizer", ("--config.optimizer.name=adamw",), "config.optimizer.name='adamw'"),
    ("unknown_field", ("--config.num_stepz=3",), "--config.num_stepz: no such field"),
    ("zero_seeds", ("--config.num_seeds=0",), "config.num_seeds=0 must be a positive integer"),
    ("zero_hidden_size", ("--config.discriminator.hidden_sizes=(0,)",),
     "config.discriminator.hidden_sizes"),
    ("negative_learning_rate", ("--config.generator.learning_rate=-1.0",),
     "config.generator.learning_rate=-1.0 must be a positive number"),
    ("zero_mode_std", ("--config.ring.std=0", "--config.grid.std=0"),
     "is not valid for target"),
    ("eval_every_not_dividing", ("--config.eval_every=300",), "config.eval_every=300 must divide"),
    ("checkpoint_every_not_a_multiple", ("--config.checkpoint_every=250",),
     "config.checkpoint_every=250 must be a multiple"),
    ("mmd_samples_above_eval_samples", ("--config.mmd_samples=5000",), "config.mmd_samples=5000"),
)
# Every experiment config, with the bad inputs it must reject. grid.py is the GAN sweep
# with other defaults: it gets the cases those defaults touch.
BAD_INPUTS = {
    "ring.py": GAN_SWEEP_BAD_INPUTS,
    "grid.py": tuple(
        case for case in GAN_SWEEP_BAD_INPUTS
        if case[0] in ("unknown_target", "zero_mode_std", "eval_every_not_dividing",
                       "checkpoint_every_not_a_multiple")
    ),
}
THEORY_BAD_INPUTS = (
    ("unknown_objective", ("--config.objectives=minimax,wgan",), "config.objectives=("),
    ("unknown_field", ("--config.num_sample=3",), "--config.num_sample: no such field"),
    ("one_sample", ("--config.num_samples=(1,10)",), "each must be at least 2"),
    ("zero_seeds", ("--config.num_seeds=0",), "config.num_seeds=0 must be a positive integer"),
    ("zero_data_std", ("--config.data_std=0.0",), "config.data_std=0.0 must be a positive number"),
    ("negative_generator_std", ("--config.generator_std=-1.5",), "config.generator_std=-1.5"),
    ("empty_interval", ("--config.quadrature.low=3.0", "--config.quadrature.high=-3.0"),
     "config.quadrature.low=3.0 must be below config.quadrature.high=-3.0"),
    ("two_points", ("--config.quadrature.num_points=2",), "config.quadrature.num_points=2"),
    ("discriminator_eval_every", ("--config.discriminator.eval_every=7",),
     "config.discriminator.eval_every=7 must divide config.discriminator.num_steps=3000"),
)
BAD_INPUTS["theory.py"] = THEORY_BAD_INPUTS
# The shrunken config that stands for each experiment in the tests of its workdir.
EXPERIMENT_CONFIGS = {"gan_sweep": TINY, "theory": TINY_THEORY}
CONFIGS = ROOT / "experiments" / "configs"


class BadInputTest(parameterized.TestCase):
  """Every bad input: one line naming the field, exit status 1, nothing compiled or written."""

  def assert_one_line_error(self, process, message: str) -> None:
    self.assertEqual(process.returncode, 1, process.stderr[-2000:])
    self.assertTrue(error_line(process).startswith("error: "), error_line(process))
    self.assertIn(message, error_line(process))
    self.assertNotIn("Traceback", process.stderr)
    self.assertNotIn("Compiling", process.stderr)  # Launched with log_compiles.

  def test_every_experiment_and_config_has_cases(self):
    self.assertCountEqual(
        BAD_INPUTS, [p.name for p in CONFIGS.glob("*.py") if p.name != "__init__.py"]
    )
    self.assertCountEqual(EXPERIMENT_CONFIGS, main.EXPERIMENTS)

  @parameterized.named_parameters(
      (f"{config.removesuffix('.py')}_{case}", config, args, message)
      for config, cases in BAD_INPUTS.items()
      for case, args, message in cases
  )
  def test_bad_config(self, config, args, message):
    workdir = Path(self.create_tempdir().full_path) / "out"
    process = launch(
        f"--config={CONFIGS / config}", f"--workdir={workdir}", *args, log_compiles=True
    )
    self.assert_one_line_error(process, message)
    self.assertFalse(workdir.exists())

  @parameterized.named_parameters(*EXPERIMENT_CONFIGS.items())
  def test_unwritable_workdir(self, tiny):
    blocker = Path(self.create_tempfile().full_path)  # A file where a directory must go.
    process = launch(f"--workdir={blocker}/out", *tiny, log_compiles=True)
    self.assert_one_line_error(process, f"--workdir={blocker}/out cannot be written")

  @parameterized.named_parameters(*EXPERIMENT_CONFIGS.items())
  def test_foreign_workdir(self, tiny):
    workdir = Path(self.create_tempdir().full_path)
    (workdir / "config.json").write_text('{"experiment": "another"}\n')
    (workdir / "results.csv").write_text("theirs\n")
    process = launch(f"--workdir={workdir}", *tiny, log_compiles=True)
    self.assert_one_line_error(process, "holds results of a different config")
    self.assertEqual((workdir / "results.csv").read_text(), "theirs\n")
    self.assertCountEqual([p.name for p in workdir.iterdir()], ["config.json", "results.csv"])


if __name__ == "__main__":
  absltest.main()
