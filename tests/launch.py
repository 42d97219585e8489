"""Running the launcher as a user runs it: a subprocess per command."""

import atexit
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A shrunken config, as launcher overrides.
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

# One persistent compilation cache for every launch of a test session: a process loads
# the programs an earlier one compiled (the same executables, so the same numbers).
_CACHE = tempfile.TemporaryDirectory(prefix="gan_theory_test_cache_")
atexit.register(_CACHE.cleanup)
ENV = {
    **os.environ,
    "JAX_COMPILATION_CACHE_DIR": _CACHE.name,
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
}


def command(*args: str) -> list[str]:
  return [sys.executable, "-m", "experiments.main", *args]


def launch(*args: str, log_compiles: bool = False) -> subprocess.CompletedProcess:
  """Runs the launcher with ``args`` to the end; ``log_compiles`` logs every XLA compile."""
  env = {**ENV, "JAX_LOG_COMPILES": "1"} if log_compiles else ENV
  return subprocess.run(
      command(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
  )


def error_line(process: subprocess.CompletedProcess) -> str:
  lines = process.stderr.strip().splitlines()
  return lines[-1] if lines else ""
