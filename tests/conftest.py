"""Test-session setup, before any test module imports JAX.

pytest runs the absltest cases without absl's main, which would parse absl flags;
absltest's tempdir helpers read flags, so mark them parsed with their defaults.

One persistent compilation cache serves the whole session: this process, the pytest-xdist
workers and the launchers they start (all inherit the environment), so a program
compiled once, such as the tiny sweep's, is loaded from the cache afterwards, whichever
worker needs it. The process that creates the cache removes it at exit. The cached
executables are the ones the compiler made, so the numbers are the same.

Compiling takes most of the suite's time, and most of a compile is LLVM optimizing the
CPU code; the tests skip it (XLA's backend optimization level 0) unless XLA_FLAGS sets a
level. The matrix products call the same library kernels either way, so the tests run
about as fast; only float32 rounding changes (the tiny sweep's metrics in the 7th digit),
and no test depends on rounding.
"""

import atexit
import os
import tempfile

from absl import flags

flags.FLAGS.mark_as_parsed()

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # Else a parent process made it.
  _CACHE = tempfile.TemporaryDirectory(prefix="gan_theory_test_cache_")
  atexit.register(_CACHE.cleanup)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE.name
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (
      os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
  ).strip()
