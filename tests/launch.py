"""Running the launcher as a user runs it: a subprocess per command.

The launchers inherit the test session's compilation cache (see conftest.py).
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.tiny import launcher_flags, tiny_config

ROOT = Path(__file__).resolve().parents[1]

# The tiny GAN sweep as launcher flags.
TINY = launcher_flags(tiny_config())


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
