"""Tests for the experiments, each run in process on its tiny config, and for the launcher.

What needs a real process (the launcher's flags and its one-line errors, a whole table of bad
inputs without a single compile) is marked slow.
"""

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ml_collections
import pytest
from absl.testing import absltest, parameterized

from experiments import (
    gan_sweep,
    iwae_bounds,
    likelihood_vs_samples,
    main,
    ml_cost,
    theory,
    vae_digits,
)
from experiments import workdir as workdir_lib
from experiments.workdir import WorkdirError
from gan_theory import engine, objectives
from gan_theory.validation import ConfigError
from tests import bad_inputs
from tests.launch import ROOT, TINY, error_line, launch
from tests.tiny import (
    TINY_CONFIGS,
    tiny_config,
    tiny_digits_config,
    tiny_iwae_bounds_config,
    tiny_likelihood_vs_samples_config,
    tiny_ml_cost_config,
    tiny_theory_config,
)

CONFIGS = ROOT / "experiments" / "configs"
PNG = b"\x89PNG\r\n\x1a\n"


def run(config: ml_collections.ConfigDict, workdir: Path, overwrite: bool = False) -> None:
  """What the launcher does with a parsed config, in this process."""
  main.run(config, workdir, overwrite=overwrite)


def assert_resumes_to_the_same_files(
    test: absltest.TestCase, config: ml_collections.ConfigDict, workdir: Path,
    compared: tuple[str, ...], resumed: str,
) -> None:
  """Rewinds ``workdir`` as a kill would leave it, reruns ``config`` there, and checks that
  the ``compared`` files come back byte-identical.

  The rewind deletes every output but config.json and the checkpoints, and the latest
  snapshot in ``checkpoints/<resumed>``: that run resumes from the snapshot before it, if
  it has one, or starts afresh; every other run resumes from its last snapshot.
  """
  before = {name: (workdir / name).read_bytes() for name in compared}
  for name in compared:
    (workdir / name).unlink()
  snapshots = workdir / "checkpoints" / resumed
  latest = max((p for p in snapshots.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
  shutil.rmtree(latest)
  run(config, workdir)
  for name in compared:
    test.assertEqual((workdir / name).read_bytes(), before[name], name)


@pytest.mark.slow
class GanSweepTest(absltest.TestCase):

  def test_tiny_sweep_writes_every_output_and_reruns(self):
    workdir = Path(self.create_tempdir().full_path) / "ring"
    config = tiny_config(objectives=("minimax", "maximum_likelihood"), two_sample_tests=True)
    run(config, workdir)
    self.assertCountEqual([p.name for p in workdir.iterdir()], gan_sweep.OUTPUTS)

    written = json.loads((workdir / "config.json").read_text())
    self.assertEqual(written["objectives"], ["minimax", "maximum_likelihood"])
    self.assertEqual(written["target"], "ring")

    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(len(rows), 2 * 2 * 3)  # objectives x seeds x evaluations
    self.assertEqual(list(rows[0])[:7], ["objective", "generator_learning_rate",
                                         "discriminator_learning_rate", "seed", "step",
                                         "diverged_step", "modes"])
    self.assertEqual({r["generator_learning_rate"] for r in rows}, {"0.001"})
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
      self.assertEqual((workdir / name).read_bytes()[:8], PNG)
    self.assertEqual(os.stat(workdir / "results.csv").st_mode & 0o044, 0o044)

    # The same config again: allowed; it resumes from the final checkpoint, same results.
    before = (workdir / "results.csv").read_text()
    run(config, workdir)
    self.assertEqual((workdir / "results.csv").read_text(), before)

    # Another config: refused before compiling, leaving the results alone, unless overwrite.
    with self.assertRaisesRegex(WorkdirError, "holds results of a different config"):
      run(tiny_config(), workdir)
    self.assertEqual((workdir / "results.csv").read_text(), before)
    run(tiny_config(first_seed=7), workdir, overwrite=True)
    self.assertEqual(json.loads((workdir / "config.json").read_text())["first_seed"], 7)
    with open(workdir / "results.csv") as f:
      self.assertEqual({row["seed"] for row in csv.DictReader(f)}, {"7", "8"})
    # Without the two-sample tests: the other config's two_sample.csv is gone, none new.
    self.assertFalse((workdir / "two_sample.csv").exists())

  def test_a_learning_rate_list_gives_a_row_per_value(self):
    workdir = Path(self.create_tempdir().full_path) / "rates"
    config = tiny_config(objectives=("minimax",), num_steps=10)
    config.generator.learning_rate = (1e-3, 1e-4)
    run(config, workdir)
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(sorted({(r["generator_learning_rate"], r["seed"]) for r in rows}),
                     [(rate, seed) for rate in ("0.001", "1e-04")
                      for seed in ("0", "1")])
    summary = (workdir / "summary.md").read_text()
    self.assertIn("| minimax (lr_G 0.001) | 2 |", summary)
    self.assertIn("| minimax (lr_G 0.0001) | 2 |", summary)
    # The best value, by the selection draw's score.
    scores = {rate: sum(float(r["selection_score"]) for r in rows
                        if r["generator_learning_rate"] == rate and r["step"] == "10")
              for rate in ("0.001", "1e-04")}
    best = min(scores, key=scores.get)
    best_section = summary.split("## Each objective at its best learning rates")[1]
    best_section = best_section.split("\n## ")[0]
    self.assertIn(f"| minimax (lr_G {float(best):g}) | 2 |", best_section)

  def test_tiny_ml_cost_pairs_every_setting_with_the_first_settings_mle_runs(self):
    workdir = Path(self.create_tempdir().full_path) / "ml_cost"
    run(tiny_ml_cost_config(), workdir)
    self.assertCountEqual([p.name for p in workdir.iterdir()], ml_cost.OUTPUTS)
    self.assertCountEqual([p.name for p in (workdir / "checkpoints").iterdir()],
                          ["oracle", "k=2"])
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    # Neither mle nor mmd reads the discriminator: they run in the first setting alone.
    self.assertEqual(len(rows), (3 + 1) * 2 * 3)  # objectives x seeds x evaluations
    by = {(r["discriminator"], r["objective"], r["seed"], r["step"]): r for r in rows}
    for seed in ("0", "1"):
      for step in ("0", "10", "20"):
        mle_nll = float(by["oracle", "mle", seed, step]["nll"])
        self.assertEqual(float(by["oracle", "mle", seed, step]["nll_excess"]), 0.0)
        for setting in ("oracle", "k=2"):
          row = by[setting, "maximum_likelihood", seed, step]
          self.assertAlmostEqual(float(row["nll_excess"]), float(row["nll"]) - mle_nll, places=5)
        self.assertLess(abs(float(by["oracle", "maximum_likelihood", seed, step]
                                  ["discriminator_gap"])), 1e-5)
    summary = (workdir / "summary.md").read_text()
    self.assertIn("- `maximum_likelihood`: as `mle` with the discriminator", summary)
    self.assertIn("| cost | discriminator | NLL minus mle's (nats) | median | seeds above mle |"
                  " signed-rank p |", summary)
    self.assertIn("| objective | oracle | k=2 |", summary)
    self.assertRegex(summary, r"\| mmd \| [-0-9.e]+ ± [0-9.e]+ \| as oracle \|")

  def test_ml_cost_may_run_the_oracle_alone(self):
    config = tiny_ml_cost_config(discriminator_step_counts=())
    ml_cost.validate(config)
    self.assertEqual(list(ml_cost.settings(config)), ["oracle"])

  def test_a_flow_sweep_reports_likelihoods_and_divergences(self):
    workdir = Path(self.create_tempdir().full_path)
    names = ("non_saturating", "mle")
    config = tiny_config(
        objectives=names,
        **{"generator.kind": "flow", "generator.num_couplings": 2,
           "generator.hidden_sizes": (8, 8)},
    )
    run(config, workdir)
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertLen(rows, len(names) * 2 * 3)
    for name in ("nll", "forward_kl", "reverse_kl", "jsd"):
      for column in (name, f"{name}_stderr"):
        self.assertTrue(all(float(row[column]) == float(row[column]) for row in rows), column)
    summary = (workdir / "summary.md").read_text()
    self.assertIn("# ring, flow generator", summary)
    headline = summary.split("## Headline")[1].split("## Every metric")[0]
    self.assertIn("| objective | seeds | diverged | nll | forward_kl | reverse_kl | jsd | modes |"
                  " high_quality |", headline)
    for name in names:
      self.assertIn(f"| {name} | 2 | 0 |", headline)
    self.assertIn("## Where the generator's gradient comes from", summary)


@pytest.mark.slow
class TheoryTest(absltest.TestCase):

  def test_tiny_theory_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "theory"
    run(tiny_theory_config(), workdir)
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
      self.assertEqual((workdir / name).read_bytes()[:8], PNG)
    with open(workdir / "discriminators.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(
        [(r["objective"], r["seed"], r["step"]) for r in rows],
        [(o, s, t) for o in ("minimax", "f_kl") for s in ("0", "1") for t in ("0", "10", "20")],
    )
    self.assertIn("## Discriminators towards D*", summary)
    self.assertIn("## f-GAN variational bounds", summary)
    # Each objective's trained discriminators, snapshotted for the same command to resume.
    self.assertCountEqual([p.name for p in (workdir / "checkpoints").iterdir()],
                          ["minimax", "f_kl"])
    assert_resumes_to_the_same_files(
        self, tiny_theory_config(), workdir, ("identities.csv", "discriminators.csv"), "f_kl"
    )


@pytest.mark.slow
class IwaeBoundsTest(absltest.TestCase):

  def test_tiny_iwae_bounds_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "iwae_bounds"
    run(tiny_iwae_bounds_config(), workdir)
    self.assertCountEqual([p.name for p in workdir.iterdir()], iwae_bounds.OUTPUTS)
    with open(workdir / "bounds.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([(r["k"], r["replicate"]) for r in rows],
                     [(k, str(r)) for k in ("1", "10") for r in range(20)])
    self.assertLen({r["log_p_x"] for r in rows}, 1)
    with open(workdir / "snr.csv") as f:
      rows = list(csv.DictReader(f))
    # Entries per k and encoder gradient estimator: decoder 3x3 + 3 + 1, encoder 3x3 + 3 + 3.
    self.assertLen(rows, 2 * 3 * (13 + 15))
    with open(workdir / "estimator_variance.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertLen(rows, 2 * 2 * 2 * 2)  # covariances x dims x estimators x parameters
    summary = (workdir / "summary.md").read_text()
    for section in ("## L_1 <= L_2 <= ... <= L_k <= log p(x)",
                    "## Signal-to-noise ratio of the gradients",
                    "## Pathwise against score-function gradients, by dimension"):
      self.assertIn(section, summary)
    for name in ("bounds.png", "snr.png", "estimator_variance.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], PNG)


@pytest.mark.slow
class LikelihoodVsSamplesTest(absltest.TestCase):

  def test_tiny_likelihood_vs_samples_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "likelihood_vs_samples"
    run(tiny_likelihood_vs_samples_config(), workdir)
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
        [(r["sample_size"], r["problem"], r["hypothesis"], r["replicate"]) for r in rows],
        [(n, p, h, str(r)) for n in ("10",) for p in ("mean_shift", "blob")
         for r in range(10) for h in ("null", "alternative")],
    )
    summary = (workdir / "summary.md").read_text()
    self.assertIn("## The tests' calibration: 10 replicates per sample size", summary)
    self.assertIn("### blob: Blob", summary)
    self.assertIn("## The study: 2 replicates per dimension", summary)
    for name in ("study.png", "calibration.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], PNG)


@pytest.mark.slow
class VaeDigitsTest(absltest.TestCase):

  def test_tiny_digits_writes_every_output(self):
    workdir = Path(self.create_tempdir().full_path) / "digits"
    config = tiny_digits_config(checkpoint_every=100)  # A snapshot halfway, to resume from.
    run(config, workdir)
    self.assertCountEqual([p.name for p in workdir.iterdir()], vae_digits.OUTPUTS)
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    self.assertEqual([(r["k"], r["encoder_gradient"], r["seed"]) for r in rows],
                     [(k, e, s) for k in ("1", "5") for e in ("reparameterized", "dreg")
                      for s in ("0", "1")])
    for row in rows:
      # Binary images: log p(x) <= 0; the ELBO and L_5000 are bounds from the same weights.
      self.assertLess(float(row["log_likelihood"]), 0.0)
      self.assertLessEqual(float(row["elbo"]), float(row["log_likelihood"]))
      self.assertIn(int(row["active_units"]), range(config.latent_dim + 1))
    with open(workdir / "curves.csv") as f:
      self.assertLen(list(csv.DictReader(f)), 2 * 2 * 2 * 3)  # k x estimators x seeds x evaluations
    summary = (workdir / "summary.md").read_text()
    self.assertIn("| 1 | reparameterized | ", summary)
    self.assertIn("## Each encoder gradient against reparameterized, seed by seed", summary)
    self.assertIn("| 5 | dreg | ", summary)
    self.assertIn("## The encoder's gap, split (Cremer et al. 2018)", summary)
    for name in ("curves.png", "samples.png", "reconstructions.png"):
      self.assertEqual((workdir / name).read_bytes()[:8], PNG)
    # Each k's runs, snapshotted by the engine for the same command to resume from.
    self.assertCountEqual([p.name for p in (workdir / "checkpoints").iterdir()], ["k1", "k5"])
    assert_resumes_to_the_same_files(
        self, config, workdir, ("results.csv", "curves.csv"), "k5"
    )


class InterruptedLineTest(absltest.TestCase):
  """Ctrl-C: one line with the step reached and what the same command does next."""

  def test_with_and_without_a_checkpoint(self):
    self.assertEqual(
        main.interrupted_line(engine.Interrupted(steps_done=1500, saved_step=1000)),
        "interrupted at step 1,500: the same command resumes from the checkpoint at step 1,000",
    )
    self.assertEqual(main.interrupted_line(engine.Interrupted(steps_done=500, saved_step=None)),
                     "interrupted at step 500: the same command starts again")
    self.assertIn("interrupted: the same command resumes",
                  main.interrupted_line(KeyboardInterrupt()))


class WorkdirTest(parameterized.TestCase):
  """Each experiment refuses a workdir it cannot use, before computing anything."""

  @parameterized.named_parameters(*TINY_CONFIGS.items())
  def test_unwritable_workdir(self, tiny):
    blocker = Path(self.create_tempfile().full_path)  # A file where a directory must go.
    with self.assertRaisesRegex(WorkdirError, f"^--workdir={blocker}/out cannot be written"):
      run(tiny(), blocker / "out")

  @parameterized.named_parameters(*TINY_CONFIGS.items())
  def test_foreign_workdir(self, tiny):
    workdir = Path(self.create_tempdir().full_path)
    (workdir / "config.json").write_text('{"experiment": "another"}\n')
    (workdir / "results.csv").write_text("theirs\n")
    with self.assertRaisesRegex(WorkdirError, "holds results of a different config"):
      run(tiny(), workdir)
    self.assertEqual((workdir / "results.csv").read_text(), "theirs\n")
    self.assertCountEqual([p.name for p in workdir.iterdir()], ["config.json", "results.csv"])


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


class BadInputTableTest(absltest.TestCase):

  def test_every_experiment_and_config_has_cases(self):
    self.assertCountEqual(
        bad_inputs.BAD_INPUTS, [p.name for p in CONFIGS.glob("*.py") if p.name != "__init__.py"]
    )
    self.assertCountEqual(TINY_CONFIGS, main.EXPERIMENTS)

  @pytest.mark.slow
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


@pytest.mark.slow
class LauncherTest(absltest.TestCase):
  """The launcher as a user runs it, in a process of its own."""

  def test_runs_a_sweep_from_flags(self):
    workdir = Path(self.create_tempdir().full_path) / "ring"
    process = launch(f"--workdir={workdir}", *TINY, "--imports=tests.least_squares",
                     "--config.objectives=minimax,least_squares")
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    self.assertIn("run-steps/s", process.stderr)  # Progress logging.
    # A CPU device per core, unless the environment chose.
    devices = int(os.environ.get("JAX_NUM_CPU_DEVICES", len(os.sched_getaffinity(0))))
    self.assertIn(f"on the cpu backend, {devices} device", process.stderr)
    written = json.loads((workdir / "config.json").read_text())
    self.assertEqual(written["objectives"], ["minimax", "least_squares"])
    self.assertEqual(written["num_seeds"], 2)
    with open(workdir / "results.csv") as f:
      self.assertEqual({row["objective"] for row in csv.DictReader(f)},
                       {"minimax", "least_squares"})

  def test_bad_input_gets_one_line(self):
    blocker = Path(self.create_tempfile().full_path)  # A file where a directory must go.
    theory_file = f"--config={CONFIGS / 'theory.py'}"
    failing_config = self.create_tempfile(
        "failing.py", 'def get_config():\n  raise ValueError("no config here")\n'
    ).full_path
    cases = {
        "config": ((*TINY, "--config.num_seeds=0", "--workdir=unused"),
                   "error: config.num_seeds=0 must be a positive integer"),
        "workdir": ((*TINY, f"--workdir={blocker}/out"),
                    f"error: --workdir={blocker}/out cannot be written"),
        # ml_collections rejects an unknown field of the default config when main.py is
        # imported, and one of an explicit --config file when the flags are parsed.
        "default_config_field": (("--workdir=unused", "--config.num_stepz=3"),
                                 "error: --config.num_stepz: no such field in the config;"
                                 " did you mean 'num_steps'?"),
        "explicit_config_field": ((theory_file, "--workdir=unused", "--config.num_sample=3"),
                                  "error: --config.num_sample: no such field in the config;"
                                  " did you mean 'num_samples'?"),
        "imports": ((*TINY, "--imports=no_such_module", "--workdir=unused"),
                    "error: --imports: cannot import 'no_such_module'"),
        "no_workdir": (TINY, "error: --workdir is required"),
        "empty_workdir": ((*TINY, "--workdir="), "error: --workdir is empty"),
        "unknown_flag": ((*TINY, "--workdirr=unused"),
                         "error: --workdirr: no such flag; did you mean --workdir?"),
        "int_flag": ((*TINY, "--config.num_steps=5e3", "--workdir=unused"),
                     "error: --config.num_steps=5e3 must be an integer"),
        "float_flag": ((*TINY, "--config.mmd_bandwidth=fast", "--workdir=unused"),
                       "error: --config.mmd_bandwidth=fast must be a number"),
        "bool_flag": ((*TINY, "--config.two_sample_tests=maybe", "--workdir=unused"),
                      "error: --config.two_sample_tests=maybe must be true or false"),
        "empty_list_item": ((*TINY, "--config.objectives=minimax,,", "--workdir=unused"),
                            "error: --config.objectives=minimax,, must be a comma-separated"),
        "missing_config_file": (("--config=no_such_config.py", "--workdir=unused"),
                                "error: --config=no_such_config.py: cannot load it"),
        "failing_config_file": ((f"--config={failing_config}", "--workdir=unused"),
                                f"error: --config={failing_config}: cannot load it"
                                " (ValueError: no config here)"),
    }
    for name, (args, message) in cases.items():
      with self.subTest(name):
        process = launch(*args, log_compiles=True)
        self.assertEqual(process.returncode, 1, process.stderr[-2000:])
        self.assertTrue(error_line(process).startswith(message), error_line(process))
        self.assertNotIn("Traceback", process.stderr)
        self.assertNotIn("Compiling", process.stderr)
    self.assertFalse((ROOT / "unused").exists())
    self.assertFalse((ROOT / "config.json").exists())  # The empty --workdir claimed nothing.

  def test_runs_too_large_for_memory_get_one_line_and_leave_the_workdir_free(self):
    workdir = Path(self.create_tempdir().full_path) / "out"
    cases = {
        "evaluations": ("--config.num_steps=1000000000000",
                        "the metrics of 4 runs x 100,000,000,001 evaluations"),
        "runs": ("--config.num_seeds=10000000", "20,000,000 states of"),
    }
    for name, (flag, part) in cases.items():
      with self.subTest(name):
        process = launch(*TINY, "--config.objectives=minimax,non_saturating", flag,
                         f"--workdir={workdir}", log_compiles=True)
        self.assertEqual(process.returncode, 1, process.stderr[-2000:])
        self.assertRegex(error_line(process),
                         rf"^error: the runs need .* of memory \(.*{part}.*\), and the host has")
        self.assertNotIn("Traceback", process.stderr)
        # Nothing of the sweep compiled (a dtype conversion of its inputs may have).
        self.assertNotRegex(process.stderr, r"Compiling jit\((?!convert_element_type)")
    # What the failures left holds no results: another config takes the workdir.
    workdir_lib.claim(workdir, tiny_config(), gan_sweep.OUTPUTS, overwrite=False)

  def test_every_run_diverged_stops_writes_and_fails_in_one_line(self):
    workdir = Path(self.create_tempdir().full_path) / "out"
    args = (*TINY, "--config.num_steps=40", "--config.checkpoint_every=0",
            "--config.generator.learning_rate=1e30", "--config.discriminator.learning_rate=1e30",
            f"--workdir={workdir}")
    # The engine's test resumes such a stopped sweep; here, what the user sees.
    process = launch(*args, log_compiles=True)
    # The compile log that the bad-input tests look for, and find nothing in.
    self.assertIn("Compiling jit(", process.stderr)
    self.assertEqual(process.returncode, 1, process.stderr[-2000:])
    self.assertRegex(error_line(process),
                     r"^failed: every run diverged, the last at step \d+: training stopped"
                     rf" at step 10; the results measured until then are in {workdir}$")
    self.assertNotIn("Traceback", process.stderr)
    self.assertIn("wrote results.csv", process.stderr)
    with open(workdir / "results.csv") as f:
      rows = list(csv.DictReader(f))
    for row in rows:  # Blank from the first evaluation after divergence on.
      self.assertNotEqual(row["diverged_step"], "")
      blank = row["step"] != "0"
      self.assertEqual(row["modes"] == "", blank)
      self.assertEqual(row["mmd2"] == "", blank)
    self.assertIn("| minimax | 2 | 2 | nan ± nan |", (workdir / "summary.md").read_text())


if __name__ == "__main__":
  absltest.main()
