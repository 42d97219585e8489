"""Tests for gan_theory.engine: a toy trainer advanced period by period, as every experiment is.

The toy run is a random walk whose step size is its own leaf: cheap to compile, with a
typed key in its state, and a step size of inf makes it diverge.
"""

from typing import NamedTuple

import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest

from gan_theory import engine


@flax.struct.dataclass
class WalkState:
  key: jax.Array
  step: jax.Array
  scale: jax.Array
  position: jax.Array


class WalkMetrics(NamedTuple):
  position: jax.Array
  distance: jax.Array


class Walk(NamedTuple):
  """A random walk in 3 dimensions, ``period_steps`` steps a period."""

  num_periods: int = 4
  period_steps: int = 5

  def init(self, key, scale):
    return WalkState(key=key, step=jnp.zeros((), jnp.int32), scale=jnp.asarray(scale),
                     position=jnp.zeros(3))

  def evaluate(self, state):
    return WalkMetrics(position=state.position, distance=jnp.linalg.norm(state.position))

  def train_period(self, state):
    def step(state, _):
      noise = jax.random.normal(jax.random.fold_in(state.key, state.step), (3,))
      return state.replace(step=state.step + 1, position=state.position + state.scale * noise), None

    state, _ = jax.lax.scan(step, state, length=self.period_steps)
    return state, self.evaluate(state)


class MemoryCheckpointer:
  """Keeps snapshots in a list; ``fail_after`` saves, it raises, as a killed process stops."""

  def __init__(self, fail_after: int | None = None):
    self.saved: list[engine.Snapshot] = []
    self.fail_after = fail_after

  def save(self, snapshot):
    if self.fail_after is not None and len(self.saved) == self.fail_after:
      raise KeyboardInterrupt
    self.saved.append(jax.tree.map(np.copy, snapshot))

  def restore(self, template):
    if not self.saved:
      return None
    chex.assert_trees_all_equal_shapes_and_dtypes(self.saved[-1][1:], template[1:])
    return self.saved[-1]


SEEDS = np.array([3, 1, 4, 1, 5])
SCALES = np.array([1.0, 0.5, 2.0, 1.0, 0.1], np.float32)


class MakeTrainTest(absltest.TestCase):

  def test_evaluations_at_every_period_from_step_zero(self):
    state, metrics = jax.jit(engine.make_train(Walk()))(jax.random.key(0), 1.0)
    chex.assert_shape(metrics.position, (5, 3))
    np.testing.assert_array_equal(metrics.position[0], 0.0)
    self.assertEqual(int(state.step), 20)
    np.testing.assert_array_equal(metrics.position[-1], state.position)


class RunTest(chex.TestCase):

  def test_each_run_is_its_run_alone(self):
    outcome = engine.run(Walk(), SEEDS, SCALES, vmap_size=2)
    train = jax.jit(engine.make_train(Walk()))
    np.testing.assert_array_equal(outcome.steps, [0, 5, 10, 15, 20])
    for run, (seed, scale) in enumerate(zip(SEEDS, SCALES)):
      state, metrics = train(jax.random.key(int(seed)), scale)
      chex.assert_trees_all_close(
          jax.tree.map(lambda m: m[run], outcome.history), metrics, rtol=1e-6
      )
      np.testing.assert_array_equal(outcome.final_state.key[run], jax.random.key_data(state.key))
    # Runs 1 and 3 share a seed, hence their draws: positions scale with the step size.
    np.testing.assert_allclose(
        outcome.history.position[1], 0.5 * outcome.history.position[3], rtol=1e-6
    )

  def test_finish_sees_every_final_state_and_progress_every_period(self):
    reports = []
    outcome = engine.run(
        Walk(), SEEDS, SCALES, on_progress=reports.append,
        finish=lambda state: {"twice": 2 * state.position, "step": state.step},
    )
    np.testing.assert_array_equal(outcome.finished["step"], 20)
    np.testing.assert_allclose(outcome.finished["twice"], 2 * outcome.history.position[:, -1])
    self.assertEqual(
        [(r.phase, r.steps_done) for r in reports],
        [("compiling", 0), ("training", 0), ("training", 5), ("training", 10),
         ("training", 15), ("training", 20), ("finishing", 20)],
    )
    self.assertTrue(all(r.num_runs == 5 and r.num_steps == 20 and r.num_diverged == 0
                        and r.layout.num_runs == 5 for r in reports))
    self.assertGreater(reports[1].compile_seconds, 0.0)

  def test_diverged_runs_are_counted(self):
    reports = []
    scales = SCALES.copy()
    scales[2] = np.inf  # Every coordinate infinite from the first step on.
    engine.run(Walk(num_periods=1), SEEDS, scales, on_progress=reports.append)
    self.assertEqual(reports[-1].num_diverged, 1)

  def test_training_stops_once_every_run_diverged(self):
    scales = np.full(5, np.inf, np.float32)
    checkpoints = MemoryCheckpointer()
    outcome = engine.run(Walk(), SEEDS, scales, checkpointer=checkpoints, checkpoint_every=10)
    self.assertTrue(outcome.all_diverged)
    self.assertEqual(outcome.steps_done, 5)  # The first evaluation found it.
    self.assertTrue(np.isnan(outcome.history.distance[:, 1:]).all())
    self.assertEqual([s.steps_done for s in checkpoints.saved], [5])
    # The same command again restores the stopped sweep and trains no further.
    again = engine.run(Walk(), SEEDS, scales, checkpointer=checkpoints, checkpoint_every=10)
    self.assertEqual((again.steps_done, again.resumed_from_step, again.all_diverged),
                     (5, 5, True))
    self.assertEqual(len(checkpoints.saved), 1)

  def test_runs_that_cannot_fit_are_refused_before_training(self):
    reports = []
    with self.assertRaisesRegex(engine.DoesNotFit,
                                r"the metrics of 5 runs x 10,000,000,000,001 evaluations"):
      engine.run(Walk(num_periods=10**13), SEEDS, SCALES, on_progress=reports.append)
    self.assertEqual(reports, [])  # Refused before compiling.

  def test_a_period_too_large_for_memory_is_refused_once_compiled(self):

    class Huge(Walk):  # A period whose temporaries alone need about a terabyte.

      def train_period(self, state):
        noise = jax.random.normal(state.key, (2**38,))
        return state.replace(position=state.position + noise.sum()), self.evaluate(state)

    reports = []
    with self.assertRaisesRegex(engine.DoesNotFit, "a training period on this host's devices"):
      engine.run(Huge(), SEEDS[:1], SCALES[:1], on_progress=reports.append)
    self.assertEqual([r.phase for r in reports], ["compiling"])

  def test_an_interrupt_says_how_far_the_runs_got(self):
    def interrupt_at_step_15(progress):
      if progress.steps_done == 15:
        raise KeyboardInterrupt

    with self.assertRaises(engine.Interrupted) as raised:  # Nothing saved: nothing to resume.
      engine.run(Walk(), SEEDS, SCALES, on_progress=interrupt_at_step_15)
    self.assertEqual((raised.exception.steps_done, raised.exception.saved_step), (15, None))

  def test_a_resumed_sweep_equals_one_never_interrupted(self):
    whole = engine.run(Walk(), SEEDS, SCALES)
    checkpoints = MemoryCheckpointer(fail_after=1)
    with self.assertRaises(engine.Interrupted) as raised:  # Ctrl-C while saving step 10.
      engine.run(Walk(), SEEDS, SCALES, checkpointer=checkpoints, checkpoint_every=5)
    self.assertEqual((raised.exception.steps_done, raised.exception.saved_step), (10, 5))
    self.assertEqual([s.steps_done for s in checkpoints.saved], [5])
    self.assertTrue(np.isnan(checkpoints.saved[0].history.distance[:, 2:]).all())

    checkpoints.fail_after = None
    resumed = engine.run(Walk(), SEEDS, SCALES, checkpointer=checkpoints, checkpoint_every=5)
    self.assertEqual(resumed.resumed_from_step, 5)
    chex.assert_trees_all_equal(resumed.history, whole.history)
    chex.assert_trees_all_equal(resumed.final_state, whole.final_state)
    self.assertEqual([s.steps_done for s in checkpoints.saved], [5, 10, 15, 20])

    again = engine.run(Walk(), SEEDS, SCALES, checkpointer=checkpoints)  # Finished: no training.
    self.assertEqual(again.resumed_from_step, 20)
    chex.assert_trees_all_equal(again.history, whole.history)


if __name__ == "__main__":
  absltest.main()
