"""Test-session setup, before any test module imports JAX.

pytest runs the absltest cases without absl's main, which would parse absl flags;
absltest's tempdir helpers read flags, so mark them parsed with their defaults.

One persistent compilation cache serves the whole session: this process, the pytest-xdist
workers and the launchers they start (all inherit the environment), so a program
compiled once, such as the tiny sweep's, is loaded from the cache afterwards, whichever
worker needs it. The process that creates the cache removes it at exit. The cached
executables are the ones the compiler made, so the numbers are the same.

The suite is compile-bound: most of its programs run for milliseconds. XLA's CPU backend at
optimization level 0 compiles them faster, for less time in all (measured: test_gan's
TrainTest 60 s -> 43 s; the ring, flow and tiny-sweep tests 116 s -> 76 s, although they
train the longest). The HLO programs are the same; only LLVM's code for them differs, so
numbers move at float32 rounding (1e-6 relative after 20 GAN steps), as they do between
CPUs, and every comparison in the suite is between programs compiled alike. XLA_FLAGS set
by the caller win.
"""

import atexit
import os
import tempfile

from absl import flags

flags.FLAGS.mark_as_parsed()

os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # Else a parent process made it.
  _CACHE = tempfile.TemporaryDirectory(prefix="gan_theory_test_cache_")
  atexit.register(_CACHE.cleanup)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE.name
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
