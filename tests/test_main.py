"""Smoke tests of the launcher, run as a user runs it: a subprocess per command."""

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from absl.testing import absltest, parameterized

from experiments import gan_sweep, iwae_bounds, likelihood_vs_samples, main, theory, vae_digits
from gan_theory import objectives
from gan_theory.validation import ConfigError
from tests import bad_inputs
from tests.launch import (
    ROOT,
    TINY,
    TINY_DIGITS,
    TINY_IWAE_BOUNDS,
    TINY_LIKELIHOOD_VS_SAMPLES,
    TINY_THEORY,
    error_line,
    launch,
)
from tests.tiny import tiny_config


class LauncherTest(absltest.TestCase):

  def test_tiny_sweep_writes_every_output_and_reruns(self):
    workdir = Path(self.create_tempdir().full_path) / "ring"
    with_tests = (*TINY, "--config.objectives=minimax,maximum_likelihood",
                  "--config.two_sample_tests=true")
    process = launch(f"--workdir={workdir}", *with_tests)
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
    self.assertNotIn("nll", rows[0])  # An MLP generator has no density.
    self.assertEqual({r["diverged_step"] for r in rows}, {""})
    self.assertEqual({(r["objective"], r["seed"], r["step"]) for r in rows},
                     {(o, s, t) for o in ("minimax", "maximum_likelihood")
                      for s in ("0", "1") for t in ("0", "10", "20")})

    with open(workdir / "two_sample.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([(r["objective"], r["seed"]) for r in rows],
                     [(o, s) for o in ("minimax", "maximum_likelihood") for s in ("0", "1")])
    for row in rows:
      self.assertTrue(0 < float(row["mmd_p_value"]) <= 1, row)
      self.assertTrue(0 <= float(row["classifier_accuracy"]) <= 1, row)

    summary = (workdir / "summary.md").read_text()
    self.assertIn("| minimax | 2 |", summary)
    self.assertIn("| maximum_likelihood | 2 |", summary)
    self.assertIn("## The final generators against held-out data", summary)
    for name in ("samples.png", "curves.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
    self.assertEqual(os.stat(workdir / "results.csv").st_mode & 0o044, 0o044)

    # The same config again: allowed; it resumes from the final checkpoint, same results.
    before = (workdir / "results.csv").read_text()
    process = launch(f"--workdir={workdir}", *with_tests)
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
    # Without the two-sample tests: the other config's two_sample.csv is gone, none new.
    self.assertFalse((workdir / "two_sample.csv").exists())


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
    self.assertEqual(
        [(r["objective"], r["seed"], r["step"]) for r in rows],
        [(o, s, t) for o in ("minimax", "f_kl") for s in ("0", "1") for t in ("0", "10", "20")],
    )
    self.assertIn("## Discriminators towards D*", summary)
    self.assertIn("## f-GAN variational bounds", summary)


  def test_tiny_iwae_bounds_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "iwae_bounds"
    process = launch(f"--workdir={workdir}", *TINY_IWAE_BOUNDS)
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertCountEqual([p.name for p in workdir.iterdir()], iwae_bounds.OUTPUTS)
    with open(workdir / "bounds.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([(r["k"], r["replicate"]) for r in rows],
                     [(k, str(r)) for k in ("1", "10") for r in range(20)])
    self.assertLen({r["log_p_x"] for r in rows}, 1)
    with open(workdir / "snr.csv") as f:
      rows = list(csv.DictReader(f))
    # Entries per k: decoder 3x3 + 3 + 1, encoder 3x3 + 3 + 3.
    self.assertLen(rows, 2 * (13 + 15))
    with open(workdir / "estimator_variance.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertLen(rows, 2 * 2 * 2 * 2)  # covariances x dims x estimators x parameters
    summary = (workdir / "summary.md").read_text()
    for section in ("## L_1 <= L_2 <= ... <= L_k <= log p(x)",
                    "## Signal-to-noise ratio of the gradients",
                    "## Pathwise against score-function gradients, by dimension"):
      self.assertIn(section, summary)
    for name in ("bounds.png", "snr.png", "estimator_variance.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

  def test_tiny_likelihood_vs_samples_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "likelihood_vs_samples"
    process = launch(f"--workdir={workdir}", *TINY_LIKELIHOOD_VS_SAMPLES)
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertCountEqual([p.name for p in workdir.iterdir()], likelihood_vs_samples.OUTPUTS)
    with open(workdir / "study.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(
        [(r["dim"], r["model"], r["replicate"]) for r in rows],
        [(d, m, r) for d in ("30",) for r in ("0", "1")
         for m in ("data", "memorizer", "noisy")],
    )
    for row in rows:
      self.assertTrue(math.isfinite(float(row["log_likelihood"])), row)
      self.assertTrue(0 < float(row["mmd_p_value"]) <= 1, row)
    with open(workdir / "calibration.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(
        [(r["sample_size"], r["hypothesis"], r["replicate"]) for r in rows],
        [(n, h, str(r)) for n in ("10",) for r in range(10) for h in ("null", "shift")],
    )
    summary = (workdir / "summary.md").read_text()
    self.assertIn("## The tests' calibration: 10 replicates per sample size", summary)
    self.assertIn("## The study: 2 replicates per dimension", summary)
    for name in ("study.png", "calibration.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

  def test_tiny_digits_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "digits"
    process = launch(f"--workdir={workdir}", *TINY_DIGITS)
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertCountEqual([p.name for p in workdir.iterdir()], vae_digits.OUTPUTS)
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([(r["k"], r["seed"]) for r in rows],
                     [(k, s) for k in ("1", "3") for s in ("0", "1")])
    for row in rows:
      self.assertLess(float(row["log_likelihood"]), 0.0)
      self.assertLessEqual(float(row["elbo"]), float(row["log_likelihood"]))
      self.assertIn(row["active_units"], ("0", "1", "2"))
    with open(workdir / "curves.csv") as f:
      self.assertLen(list(csv.DictReader(f)), 2 * 2 * 3)  # k x seeds x evaluations
    summary = (workdir / "summary.md").read_text()
    self.assertIn("| 1 | ", summary)
    self.assertIn("## The encoder's gap, split (Cremer et al. 2018)", summary)
    for name in ("curves.png", "samples.png", "reconstructions.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], b"\x89PNG\r\n\x1a\n")


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


class FlowSweepTest(absltest.TestCase):

  def test_a_flow_sweep_reports_likelihoods_and_divergences(self):
    workdir = Path(self.create_tempdir().full_path)
    objectives = ("non_saturating", "mle")
    config = tiny_config(
        objectives=objectives,
        **{"generator.kind": "flow", "generator.num_couplings": 2,
           "generator.hidden_sizes": (8, 8)},
    )
    gan_sweep.run(config, str(workdir))
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertLen(rows, len(objectives) * 2 * 3)
    for name in ("nll", "forward_kl", "reverse_kl", "jsd"):
      for column in (name, f"{name}_stderr"):
        self.assertTrue(all(float(row[column]) == float(row[column]) for row in rows), column)
    summary = (workdir / "summary.md").read_text()
    self.assertIn("# ring, flow generator", summary)
    headline = summary.split("## Headline")[1].split("## Every metric")[0]
    self.assertIn("| objective | seeds | diverged | nll | forward_kl | reverse_kl | jsd | modes |"
                  " high_quality |", headline)
    for objective in objectives:
      self.assertIn(f"| {objective} | 2 | 0 |", headline)
    self.assertIn("## Where the generator's gradient comes from", summary)


# The shrunken config that stands for each experiment in the launcher's tests, and an
# override that its validation rejects, with the start of the message.
EXPERIMENT_CONFIGS = {
    "gan_sweep": TINY,
    "theory": TINY_THEORY,
    "iwae_bounds": TINY_IWAE_BOUNDS,
    "likelihood_vs_samples": TINY_LIKELIHOOD_VS_SAMPLES,
    "vae_digits": TINY_DIGITS,
}
LAUNCHER_BAD_INPUTS = {
    "gan_sweep": ("--config.num_seeds=0", "config.num_seeds=0 must be a positive integer"),
    "theory": ("--config.quadrature.num_points=2", "config.quadrature.num_points=2"),
    "iwae_bounds": ("--config.num_replicates=1", "config.num_replicates=1 must be an integer"),
    "likelihood_vs_samples": ("--config.signal_weight=0.0", "config.signal_weight=0.0 must be"),
    "vae_digits": ("--config.mean_field.num_steps=1", "config.mean_field.num_steps=1 must be"),
}
CONFIGS = ROOT / "experiments" / "configs"


class ImportsTest(absltest.TestCase):
  """--imports: a user's module, imported before the config is read."""

  def test_a_module_registers_its_objectives(self):
    main.import_modules(["tests.least_squares"])
    self.assertIn("least_squares", objectives.names())

  def test_a_module_that_fails_is_named_in_one_line(self):
    with self.assertRaisesRegex(
        ConfigError, r"^--imports: cannot import 'no_such_module': No module named"
    ):
      main.import_modules(["tests.least_squares", "no_such_module"])


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
        bad_inputs.BAD_INPUTS, [p.name for p in CONFIGS.glob("*.py") if p.name != "__init__.py"]
    )
    for table in (EXPERIMENT_CONFIGS, LAUNCHER_BAD_INPUTS):
      self.assertCountEqual(table, main.EXPERIMENTS)

  def test_every_bad_config_is_rejected_before_compiling(self):
    workdir = Path(self.create_tempdir().full_path)
    process = subprocess.run(
        [sys.executable, "-m", "tests.bad_inputs", str(workdir)], cwd=ROOT,
        env={**os.environ, "JAX_LOG_COMPILES": "1"}, capture_output=True, text=True, timeout=600,
    )
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    # A compile is logged after the "started" line of the case that caused it.
    self.assertNotIn("Compiling", process.stderr, process.stdout)
    errors = {
        line["case"]: line["error"]
        for line in map(json.loads, process.stdout.splitlines()) if "error" in line
    }
    for config_file, cases in bad_inputs.BAD_INPUTS.items():
      for case, _, message in cases:
        name = bad_inputs.case_name(config_file, case)
        with self.subTest(name):
          self.assertIsNotNone(errors[name], "the bad input was accepted")
          self.assertIn(message, errors[name])
          self.assertNotIn("\n", errors[name])
    self.assertEqual(list(workdir.iterdir()), [])  # No case created its workdir.

  @parameterized.named_parameters(
      (name, EXPERIMENT_CONFIGS[name], *case) for name, case in LAUNCHER_BAD_INPUTS.items()
  )
  def test_launcher_prints_one_line(self, tiny, override, message):
    workdir = Path(self.create_tempdir().full_path) / "out"
    process = launch(f"--workdir={workdir}", *tiny, override, log_compiles=True)
    self.assert_one_line_error(process, message)
    self.assertFalse(workdir.exists())

  # ml_collections rejects an unknown field of the default config when main.py is imported,
  # and one of an explicit --config file when the flags are parsed.
  @parameterized.named_parameters(
      ("default_config", (), "num_stepz", "num_steps"),
      ("explicit_config", (f"--config={CONFIGS / 'theory.py'}",), "num_sample", "num_samples"),
  )
  def test_unknown_field_is_named_with_a_suggestion(self, config, field, suggestion):
    process = launch("--workdir=unused", *config, f"--config.{field}=3", log_compiles=True)
    self.assert_one_line_error(process, f"--config.{field}: no such field")
    self.assertIn(f"did you mean '{suggestion}'?", error_line(process))

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
