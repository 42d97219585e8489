"""Tests for gan_theory.sharding: runs over devices in vmap groups, padding that never shows.

The same layout on 8 devices is checked in tests/test_sweep.py (a process of its own).
"""

import os
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest
from absl.testing import absltest

from gan_theory import sharding


def affine(run):
  """A function of one run's pytree, for map_runs: 2 x + 1 + its flag."""
  x, flag = run
  return 2.0 * x + 1.0 + flag


class VmapInGroupsTest(chex.TestCase):

  def test_equals_vmap(self):
    x = jax.random.normal(jax.random.key(0), (12, 3))
    y = jax.random.normal(jax.random.key(1), (12,))
    function = lambda a, b: (jax.numpy.sum(a) * b, a * 2.0)
    for size in (1, 3, 4, 12):
      chex.assert_trees_all_close(
          jax.jit(sharding.vmap_in_groups(function, size))(x, y), jax.vmap(function)(x, y)
      )

  def test_group_size(self):
    self.assertEqual(sharding.group_size(5, 3), 3)
    self.assertEqual(sharding.group_size(5, 30), 5)
    self.assertEqual(sharding.group_size(8, 12), 6)  # Balanced: 2 groups of 6, no padding.
    self.assertEqual(sharding.group_size(4, 9), 3)
    self.assertEqual(sharding.group_size(4, 10), 4)  # 3 groups of 4: 2 runs of padding.
    automatic = 2 if jax.default_backend() == "cpu" else 64
    self.assertEqual(sharding.group_size(0, 64), automatic)


class LayoutTest(absltest.TestCase):

  def test_whole_groups_on_every_device(self):
    where = sharding.layout(9, 2)
    self.assertEqual(where.mesh.axis_names, (sharding.RUNS,))
    self.assertEqual(where.mesh.size, jax.device_count())
    self.assertEqual(where.padded_runs % (where.mesh.size * where.group_size), 0)
    self.assertGreaterEqual(where.padded_runs, 9)
    self.assertEqual(where.num_runs, 9)

  def test_pad_repeats_the_last_run_and_unpad_drops_it(self):
    where = sharding.layout(3, 2)
    padded = where.pad({"x": np.arange(3), "y": np.ones((3, 2))})
    np.testing.assert_array_equal(
        padded["x"], np.minimum(np.arange(where.padded_runs), 2)
    )
    chex.assert_trees_all_equal(where.unpad(padded), {"x": np.arange(3), "y": np.ones((3, 2))})


class MapRunsTest(absltest.TestCase):

  def test_every_run_once_padding_dropped(self):
    runs = (np.arange(5.0), np.array([0, 1, 0, 1, 1]))
    for vmap_size in (0, 2, 5):
      np.testing.assert_array_equal(sharding.map_runs(affine, runs, vmap_size), affine(runs))

  def test_pytrees_in_and_out(self):
    out = sharding.map_runs(lambda run: {"sum": run["a"].sum(), "a": run["a"]},
                            {"a": np.ones((3, 4), np.float32)})
    np.testing.assert_array_equal(out["sum"], [4.0, 4.0, 4.0])
    self.assertEqual(out["a"].shape, (3, 4))


@pytest.mark.slow
class UseEveryCpuCoreTest(absltest.TestCase):
  """The CPU device count, fixed when JAX starts: each case in a process of its own."""

  def device_count(self, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    process = subprocess.run(
        [sys.executable, "-c", "import jax; from gan_theory import sharding;"
         " sharding.use_every_cpu_core(); print(jax.device_count())"],
        env={**environ, "JAX_PLATFORMS": "cpu", **env}, capture_output=True, text=True,
        timeout=120,
    )
    self.assertEqual(process.returncode, 0, process.stderr[-2000:])
    return int(process.stdout)

  def test_one_device_per_core_unless_the_user_chose(self):
    self.assertEqual(self.device_count(), len(os.sched_getaffinity(0)))
    self.assertEqual(self.device_count(JAX_NUM_CPU_DEVICES="3"), 3)
    self.assertEqual(
        self.device_count(XLA_FLAGS="--xla_force_host_platform_device_count=5"), 5
    )

  def test_too_late_once_jax_has_started(self):
    jax.devices()
    with self.assertRaisesRegex(RuntimeError, "before backends are initialized"):
      sharding.use_every_cpu_core()


if __name__ == "__main__":
  absltest.main()
