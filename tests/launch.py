"""Running the launcher as a user runs it: a subprocess per command.

The launchers inherit the test session's compilation cache (see conftest.py).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Shrunken configs, as launcher overrides: the GAN sweep's (the default config; without the
# two-sample tests, whose compilation the tiny sweep test alone pays for) and the other
# experiments'.
TINY = (
    "--config.num_seeds=2",
    "--config.num_steps=20",
    "--config.eval_every=10",
    "--config.batch_size=32",
    "--config.eval_samples=200",
    "--config.mmd_samples=100",
    "--config.generator.hidden_sizes=(16,16)",
    "--config.discriminator.hidden_sizes=(16,16)",
    "--config.two_sample_tests=false",
    "--config.two_sample.num_samples=50",
    "--config.two_sample.num_permutations=50",
    "--config.two_sample.classifier.hidden_sizes=(8,)",
    "--config.two_sample.classifier.num_steps=10",
)
TINY_THEORY = (
    "--config=experiments/configs/theory.py",
    "--config.num_samples=(10,100,1000)",
    "--config.num_seeds=3",
    "--config.quadrature.num_points=3001",
    "--config.discriminator.num_steps=20",
    "--config.discriminator.eval_every=10",
    "--config.discriminator.num_seeds=2",
    "--config.discriminator.objectives=minimax,f_kl",
    "--config.discriminator.hidden_sizes=(8,8)",
)
TINY_IWAE_BOUNDS = (
    "--config=experiments/configs/iwae_bounds.py",
    "--config.dim=3",
    "--config.num_data=4",
    "--config.num_importance_samples=(1,10)",
    "--config.num_replicates=20",
    "--config.estimators.dims=(1,2)",
    "--config.estimators.num_samples=100",
)
TINY_DIGITS = (
    "--config=experiments/configs/digits.py",
    "--config.num_importance_samples=(1,3)",
    "--config.num_seeds=2",
    "--config.latent_dim=2",
    "--config.encoder.hidden_sizes=(8,)",
    "--config.decoder.hidden_sizes=(8,)",
    "--config.num_steps=20",
    "--config.eval_every=10",
    "--config.evaluation.num_samples=20",
    "--config.evaluation.chunk_size=10",
    "--config.mean_field.num_images=3",
    "--config.mean_field.num_steps=10",
    "--config.num_pictures=4",
    "--config.two_sample.num_samples=40",
    "--config.two_sample.num_permutations=50",
    "--config.two_sample.classifier.hidden_sizes=(8,)",
    "--config.two_sample.classifier.num_steps=10",
)
TINY_LIKELIHOOD_VS_SAMPLES = (
    "--config=experiments/configs/likelihood_vs_samples.py",
    "--config.dims=(30,)",
    "--config.num_train=100",
    "--config.num_replicates=2",
    "--config.two_sample.num_samples=40",
    "--config.two_sample.num_permutations=50",
    "--config.two_sample.classifier.hidden_sizes=(8,)",
    "--config.two_sample.classifier.num_steps=20",
    "--config.calibration.sample_sizes=(10,)",
    "--config.calibration.num_replicates=10",
)


def command(*args: str) -> list[str]:
  return [sys.executable, "-m", "experiments.main", *args]


def launch(*args: str, log_compiles: bool = False) -> subprocess.CompletedProcess:
  """Runs the launcher with ``args`` to the end; ``log_compiles`` logs every XLA compile."""
  env = {**os.environ, "JAX_LOG_COMPILES": "1"} if log_compiles else None
  return subprocess.run(
      command(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
  )


def error_line(process: subprocess.CompletedProcess) -> str:
  lines = process.stderr.strip().splitlines()
  return lines[-1] if lines else ""
