"""Smoke test of the benchmark script: it runs and prints every figure (timings are not tested).

It measures the launcher tests' shrunken model, passed as --config overrides (also to the
per-device-count subprocesses), so that it compiles small programs.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from absl.testing import absltest

from tests.launch import TINY

ROOT = Path(__file__).resolve().parents[1]


class BenchmarkTest(absltest.TestCase):

  @pytest.mark.slow
  def test_prints_every_figure(self):
    process = subprocess.run(
        [sys.executable, "-m", "experiments.benchmark", "--runs=3", "--steps_per_call=2",
         "--min_seconds=0", "--matmul_size=128", "--one_vmap_up_to=3", "--cpu_devices=2",
         "--vmap_sizes=0,1", "--device_runs=3", "--discriminator_steps=1,2",
         "--setting_runs=4", "--learning_rates=1e-3,1e-4", "--mmd_points=50",
         "--mmd_permutations=20", "--numpy_permutations=2", *TINY,
         "--config.two_sample_tests=true"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        # One device, whatever the cores: the layouts below are this count's.
        env={**os.environ, "JAX_NUM_CPU_DEVICES": "1"},
    )
    self.assertEqual(process.returncode, 0, process.stderr[-3000:])
    # 3 runs in groups of 2, and then in one group of 3.
    self.assertRegex(process.stdout, r"\| 3 \| 1 x 2 \|.*\| \d+ \|\n")
    for figure in ("model: ring config, generator and discriminator (16, 16) relu MLPs, batch 32",
                   "f32 matmul peak", "MFLOP per training step", "Python loop over a jitted step",
                   "the config's sweep, 3 objectives x 2 seeds", "the sweep per run against it",
                   "its evaluation:", "the two MMD estimates on 100 points take",
                   "compiling the final two-sample tests of the 6 runs",
                   "| 3 | 1 x 2 |", "3 runs on virtual CPU devices",
                   "| 2 | 2 x 2 |", "| 2 | 2 x 1 |", "4 runs by discriminator updates per generator update",
                   "| 1 | one pair |", "| 1 | 4 pairs |", "| 2 | one pair |",
                   "MMD permutation test, 50 points a side",
                   "numpy loop over permutations"):
      self.assertIn(figure, process.stdout)


if __name__ == "__main__":
  absltest.main()
