"""Tests for gan_theory.sweep: the GAN's runs in one program, each as if it ran alone."""

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import chex
import jax
import numpy as np
import pytest
from absl.testing import absltest

from gan_theory import engine, gan, sharding, sweep
from tests import least_squares
from tests.test_sharding import affine
from tests.tiny import tiny_config

ROOT = Path(__file__).resolve().parents[1]

# A run inside the vmapped, chunked sweep and the same run through make_train, or the
# same sweep on 8 devices and on 1, are different XLA programs (other matmul kernels and
# fusions), so they agree to float32 rounding, about 1e-7 after 20 steps here, not bit
# for bit; 1e-5 leaves room.
RTOL, ATOL = 1e-5, 1e-6


@functools.cache
def _full_sweep_and_progress() -> tuple[sweep.SweepResult, list[engine.Progress]]:
  reports = []
  result = sweep.run_sweep(
      tiny_config(num_seeds=3, first_seed=10), num_samples=50, on_progress=reports.append,
      sample_gradients=True,
  )
  return result, reports


def _full_sweep() -> sweep.SweepResult:
  return _full_sweep_and_progress()[0]


@functools.cache
def _grouped_sweep() -> sweep.SweepResult:
  """The full sweep's runs in vmap groups of 2 (its own program)."""
  return sweep.run_sweep(
      tiny_config(num_seeds=3, first_seed=10, vmap_size=2), num_samples=50,
      sample_gradients=True,
  )


class SweepRunsTest(absltest.TestCase):

  def test_objective_major_with_shared_seeds(self):
    config = tiny_config(num_seeds=3, first_seed=5, objectives=("minimax", "maximum_likelihood"))
    settings, seeds = sweep.sweep_runs(config)
    np.testing.assert_array_equal(settings.objective, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(settings.generator_learning_rate, [np.float32(1e-3)] * 6)
    np.testing.assert_array_equal(seeds, [5, 6, 7, 5, 6, 7])

  def test_every_objective_at_every_learning_rate(self):
    config = tiny_config(num_seeds=2, objectives=("minimax", "mle"))
    config.generator.learning_rate = (1e-3, 1e-4)
    config.discriminator.learning_rate = (3e-4,)
    settings, seeds = sweep.sweep_runs(config)
    np.testing.assert_array_equal(settings.objective, [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(
        settings.generator_learning_rate, np.float32([1e-3, 1e-3, 1e-4, 1e-4] * 2))
    np.testing.assert_array_equal(settings.discriminator_learning_rate, [np.float32(3e-4)] * 8)
    np.testing.assert_array_equal(seeds, [0, 1] * 4)


@pytest.mark.slow
class DivergenceIsolationTest(chex.TestCase):

  def test_a_diverged_run_leaves_the_others_bit_identical(self):
    # The same program on the same shapes, once with run 1 poisoned by a NaN: every
    # other run must come out bit for bit the same, and run 1 must be marked at step 1.
    trainer = gan.make_trainer(tiny_config())
    seeds = jax.numpy.arange(4, dtype=jax.numpy.uint32)
    settings = gan.RunSetting(seeds % 3, np.full(4, 1e-3), np.full(4, 1e-3))
    states = jax.vmap(trainer.init)(jax.vmap(jax.random.key)(seeds), settings)
    poisoned = states.replace(
        generator_params=jax.tree.map(
            lambda p: p.at[1].set(jax.numpy.nan), states.generator_params
        )
    )
    train_period = jax.jit(sharding.vmap_in_groups(trainer.train_period, 4))
    clean_state, clean_metrics = train_period(states)
    bad_state, bad_metrics = train_period(poisoned)
    np.testing.assert_array_equal(bad_state.diverged_step, [-1, 1, -1, -1])
    self.assertTrue(all(np.isnan(m[1]) for m in jax.tree.leaves(bad_metrics)))
    others = np.array([0, 2, 3])
    chex.assert_trees_all_equal(
        jax.tree.map(lambda m: m[others], bad_metrics),
        jax.tree.map(lambda m: m[others], clean_metrics),
    )
    chex.assert_trees_all_equal(
        jax.tree.map(lambda p: p[others], bad_state.generator_params),
        jax.tree.map(lambda p: p[others], clean_state.generator_params),
    )


@pytest.mark.slow
class RunSweepTest(chex.TestCase):

  def test_shapes(self):
    result = _full_sweep()
    config = tiny_config(num_seeds=3)
    num_runs = 3 * len(config.objectives)
    num_evals = config.num_steps // config.eval_every + 1
    self.assertEqual(len(result.objectives), num_runs)
    np.testing.assert_array_equal(result.steps, [0, 10, 20])
    chex.assert_tree_shape_prefix(result.metrics, (num_runs, num_evals))
    chex.assert_shape(result.samples, (num_runs, 50, 2))
    chex.assert_tree_shape_prefix(result.sample_gradients, (num_runs, 50))
    chex.assert_tree_all_finite((result.metrics, result.sample_gradients))
    np.testing.assert_array_equal(result.final_state.step, [config.num_steps] * num_runs)
    np.testing.assert_array_equal(result.diverged_step, [-1] * num_runs)

  def test_each_run_equals_the_run_alone(self):
    result = _full_sweep()
    config = tiny_config(num_seeds=3, first_seed=10)
    train = jax.jit(gan.make_train(config))
    sample = jax.jit(gan.make_trainer(config).sample, static_argnums=1)
    for run in range(len(result.seeds)):
      setting = jax.tree.map(lambda leaf: leaf[run], result.settings)
      state, metrics = train(jax.random.key(int(result.seeds[run])), setting)
      chex.assert_trees_all_close(
          metrics, jax.tree.map(lambda m: m[run], result.metrics), rtol=RTOL, atol=ATOL
      )
      # The final generators compute the same function. Not parameter by parameter: a
      # parameter whose gradient is rounding noise takes Adam steps of up to the learning
      # rate in directions the rounding chooses (seen: 9e-6 in one of 256 weights).
      in_sweep = jax.tree.map(lambda p: p[run], result.final_state.generator_params)
      chex.assert_trees_all_close(
          sample(state, 256), sample(state.replace(generator_params=in_sweep), 256),
          rtol=RTOL, atol=ATOL,
      )

  def test_runs_do_not_depend_on_their_neighbours(self):
    # Dropping objectives and seeds from the sweep leaves the remaining runs as they were.
    full = _full_sweep()
    part = sweep.run_sweep(
        tiny_config(num_seeds=1, first_seed=11, objectives=("maximum_likelihood",)), num_samples=50
    )
    run = full.objectives.index("maximum_likelihood") + 1  # Seed 11.
    self.assertEqual(int(full.seeds[run]), 11)
    self.assertIsNone(part.sample_gradients)  # Only when asked for.
    chex.assert_trees_all_close(
        jax.tree.map(lambda m: m[0], part.metrics),
        jax.tree.map(lambda m: m[run], full.metrics),
        rtol=RTOL, atol=ATOL,
    )

  def test_groups_and_padding_do_not_change_the_runs(self):
    # 9 runs in groups of at most 2 run as 5 groups of 2: one run of padding that never shows.
    full = _full_sweep()
    grouped = _grouped_sweep()
    self.assertEqual(grouped.objectives, full.objectives)
    chex.assert_trees_all_close(grouped.metrics, full.metrics, rtol=RTOL, atol=ATOL)
    chex.assert_tree_shape_prefix(grouped.final_state, (9,))
    chex.assert_shape(grouped.samples, (9, 50, 2))

  def test_a_learning_rate_list_runs_each_value_as_if_alone(self):
    # Learning rates are leaves: a run at one value of a list equals the same run in a
    # sweep of that value alone, to float32 rounding.
    def config(generator_rates, discriminator_rates):
      config = tiny_config(num_seeds=2, first_seed=10,
                           objectives=("minimax", "maximum_likelihood"))
      config.generator.learning_rate = generator_rates
      config.discriminator.learning_rate = discriminator_rates
      return config

    both = sweep.run_sweep(config((1e-3, 3e-3), (1e-3, 3e-4)), num_samples=10)
    alone = sweep.run_sweep(config((3e-3,), (3e-4,)), num_samples=10)
    picked = ((both.settings.generator_learning_rate == np.float32(3e-3))
              & (both.settings.discriminator_learning_rate == np.float32(3e-4)))
    self.assertEqual(int(picked.sum()), len(alone.seeds))
    np.testing.assert_array_equal(both.seeds[picked], alone.seeds)
    chex.assert_trees_all_close(jax.tree.map(lambda m: m[picked], both.metrics),
                                alone.metrics, rtol=RTOL, atol=ATOL)
    # The other values are other runs: [objective, generator rate, discriminator rate, seed].
    final = both.metrics.mmd2[:, -1].reshape(2, 2, 2, 2)
    self.assertFalse(np.any(np.isclose(final[:, 0], final[:, 1], rtol=1e-4, atol=0)))
    self.assertFalse(np.any(np.isclose(final[:, :, 0], final[:, :, 1], rtol=1e-4, atol=0)))

  def test_progress_is_reported_each_period(self):
    _, reports = _full_sweep_and_progress()
    self.assertEqual([(r.phase, r.steps_done) for r in reports],
                     [("compiling", 0), ("training", 0), ("training", 10), ("training", 20),
                      ("finishing", 20)])
    self.assertTrue(all(r.num_runs == 9 and r.num_steps == 20 for r in reports))


@pytest.mark.slow
class UserObjectiveTest(absltest.TestCase):

  def test_an_objective_registered_from_test_code_trains_by_name(self):
    # tests/least_squares.py registers it, as a user's module would.
    config = tiny_config(objectives=("non_saturating", least_squares.NAME))
    result = sweep.run_sweep(config, num_samples=10)
    self.assertEqual(result.objectives, ("non_saturating",) * 2 + (least_squares.NAME,) * 2)
    np.testing.assert_array_equal(result.diverged_step, -1)
    chex.assert_tree_all_finite(result.metrics)
    # Same seed, same initial parameters: its discriminator moved on its own loss.
    kernel = result.final_state.discriminator_params["params"]["MLP_0"]["Dense_0"]["kernel"]
    for seed in range(2):
      self.assertFalse(np.allclose(kernel[seed], kernel[2 + seed]))


class DeviceMeshTest(chex.TestCase):

  @pytest.mark.slow
  def test_eight_devices_equal_one(self):
    # JAX fixes its device count at start-up, so the 8-device sweep runs in a process of
    # its own; 9 runs over 8 devices in groups of 2 pad to 16, and the padding must vanish.
    out = Path(self.create_tempdir().full_path) / "eight.npz"
    script = textwrap.dedent(f"""
        import jax
        jax.config.update("jax_num_cpu_devices", 8)
        import numpy as np
        from gan_theory import sharding, sweep
        from tests.tiny import tiny_config
        from tests.test_sharding import affine
        assert jax.device_count() == 8
        assert sharding.layout(9, 2).padded_runs == 16
        result = sweep.run_sweep(
            tiny_config(num_seeds=3, first_seed=10, vmap_size=2), num_samples=50,
            sample_gradients=True,
        )
        measured = {{k: v for k, v in result.metrics._asdict().items() if v is not None}}
        mapped = sharding.map_runs(affine, (np.arange(9.0), np.arange(9) % 2), 2)
        np.savez({str(out)!r}, samples=result.samples, **result.sample_gradients._asdict(),
                 mapped=mapped, **measured)
    """)
    process = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    self.assertEqual(process.returncode, 0, process.stderr[-3000:])
    one = _grouped_sweep()
    expected = {
        "samples": one.samples, **one.sample_gradients._asdict(),
        **{k: v for k, v in one.metrics._asdict().items() if v is not None},
    }
    eight = np.load(out)
    np.testing.assert_array_equal(eight["mapped"], affine((np.arange(9.0), np.arange(9) % 2)))
    expected["mapped"] = eight["mapped"]
    self.assertCountEqual(eight.files, expected)
    chex.assert_trees_all_close({k: eight[k] for k in expected}, expected, rtol=RTOL, atol=ATOL)


if __name__ == "__main__":
  absltest.main()
